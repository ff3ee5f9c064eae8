"""Use cases: what the channels ask of the core, each reading through ``data``, deciding through
``domain`` and writing through ``data`` again, in the caller's transaction (never committing)."""
