"""Which language a message from someone without an account is written in: Welsh, English, or
not known (a few words, names and postcodes), so that the reply to them is in their language or,
when it cannot be told, in both (Welsh first, as the Welsh Language Standards prefer).

A ``Content-Language`` header naming Welsh or English settles it. Otherwise the words are
counted against short lists of common Welsh and English words, and of the words of the service's
own labels ("Newid", "Cyfeiriad newydd", "Dweud wrth"); a language needs at least
``ENOUGH`` of its words and more than the other has.
"""

from __future__ import annotations

import re

ENOUGH = 3
_WORD = re.compile(r"[^\W\d_]+(?:[’'][^\W\d_]+)?")

WELSH = frozenset("""
a ac ag am amdano ar at atoch bod bore brynhawn byddwch chi cyfeiriad cyfeiriadau cymraeg da dweud
dyddiad dydw dw diolch ei eich ein enw ers fy gan gyda gennych gwybod hefyd helo hoffwn i'r mae
mewn na newid newydd noswaith nhw o os pan pob rhoi rwy rydw rydyn sut symud symudais tŷ ty
wedi wrth wrthym y yn yr ysgrifennu ydw yw
""".split())

ENGLISH = frozenset("""
address and are at be by change changed date dear for from has have hello hi i i'm i've in is it
moved moving my name new of on please regards tell thank thanks the this to was we with would you
your
""".split())


def written_language(text: str, subject: str = "", content_language: str = "") -> str | None:
    """``"cy"``, ``"en"`` or None when the message does not say enough to tell."""
    declared = content_language.strip().lower()
    if declared.startswith("cy"):
        return "cy"
    if declared.startswith("en"):
        return "en"
    words = [w.lower().replace("’", "'") for w in _WORD.findall(f"{subject}\n{text}")]
    welsh = sum(w in WELSH for w in words)
    english = sum(w in ENGLISH for w in words)
    if welsh >= ENOUGH and welsh > english:
        return "cy"
    if english >= ENOUGH and english > welsh:
        return "en"
    return None
