"""Dispatch: the worker that claims due notifications and delivers them through each department's channel.

``worker`` runs the delivery loop, ``worker_db`` its database side, ``jobs`` turns claimed rows into
signed events, ``webhook`` and ``email_channel`` are the channels, ``signing`` holds the departments'
secrets and ``retry`` the back-off.
"""
