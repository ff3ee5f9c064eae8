"""Marking strings for translation where Flask is not about.

The domain returns messages marked with ``N_``; the channel that shows them
(a page, an email) translates them in the citizen's language. ``pybabel
extract -k N_`` finds them.
"""


def N_(message: str) -> str:  # noqa: N802 - the gettext convention
    return message
