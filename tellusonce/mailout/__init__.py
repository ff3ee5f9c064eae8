"""Outbound email, in one place: queued (``queue``), rendered (``render``) and sent (``send``).

Whoever sends an email (the web app, the mail listener's replies, the dispatcher's email channel)
says only what it says: a template under ``templates/email/``, the context to render it with, a
subject marked with ``N_`` and the reader's language. ``queue.queue_email`` checks it and writes it
as an ``OutgoingEmail`` row in the caller's transaction, so an email goes out exactly when what
caused it is committed and the request that caused it does not pay for rendering it.
``tellusonce mail send`` runs ``send.SenderLoop``: it claims due rows, renders each
(``render.rendered_bodies``, in the language its row records, the templates as they are when it is
sent), sends it through the relay or, in demo and test mode, captures it for ``/dev/mail``, and
keeps what went out in the row.

Emails are written in the languages of ``tellusonce.i18n``, from the same Babel catalogues as the web
pages, with a plain Jinja2 environment (no Flask), so every process writes email the same way.
"""
