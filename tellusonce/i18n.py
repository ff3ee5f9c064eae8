"""The languages the service speaks, and translation where Flask is not about.

The domain returns messages marked with ``N_``; the channel that shows them
(a page, an email) translates them in the citizen's language with
``translations_for``. ``pybabel extract -k N_`` finds them.
"""

from __future__ import annotations

from functools import lru_cache

from babel.support import NullTranslations, Translations

from tellusonce.resources import TRANSLATIONS

LANGUAGES = ("en", "cy")
# An email to someone whose language is not known: the Welsh, then the English (text only).
BILINGUAL = "cy+en"


def translations_for(language: str) -> NullTranslations:
    """Babel translations for ``language``; English (the source strings) when there are none."""
    return _translations(language if language in LANGUAGES else "en")


@lru_cache(maxsize=len(LANGUAGES))
def _translations(language: str) -> NullTranslations:
    return Translations.load(str(TRANSLATIONS), [language], domain="messages")


def N_(message: str) -> str:  # noqa: N802 - the gettext convention
    return message
