"""Password rules (after the NCSC's advice) and hashing with Argon2id.

The NCSC advises against complexity rules and expiry; it asks for length, a
block-list of the passwords attackers try first, and no low maximum. So a
password is accepted when it is at least 12 characters long, or is three or more
words ("three random words"), and is not one of the 30,000 most common passwords
(the list zxcvbn ships, taken from leaked password sets), nor the person's email
address, nor guessable by the patterns zxcvbn knows (keyboard walks, dates, a
word with digits). Nothing else is demanded of it: no symbols, no expiry.
"""

from __future__ import annotations

import re
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from tellusonce.i18n import N_

MIN_LENGTH = 12
MAX_LENGTH = 256
PASSPHRASE_WORDS = 3
PASSPHRASE_WORD_LENGTH = 3
PASSPHRASE_MIN_LENGTH = 10
WORD_SEPARATORS = re.compile(r"[\s\-_.,+]+")
# zxcvbn's score 2 means "somewhat guessable": more than a million guesses.
MIN_ZXCVBN_SCORE = 2
ZXCVBN_MAX = 72

# Argon2id with OWASP's first recommended setting (19 MiB, 2 passes, 1 lane): sign-in stays
# quick while each guess stays expensive (its cost is in bench/README.md).
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# A hash of a password nobody knows: verified against when no account matches, so that
# "no such account" takes as long as "wrong password".
_DUMMY_HASH = _hasher.hash("there is no account with this address")


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The most common passwords, lower-cased (zxcvbn's frequency list)."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(p.lower() for p in FREQUENCY_LISTS["passwords"])


def is_passphrase(password: str) -> bool:
    """Three or more words of three or more letters each, like "coffee train fish"."""
    words = [w for w in WORD_SEPARATORS.split(password) if w]
    long_words = [w for w in words if len(w) >= PASSPHRASE_WORD_LENGTH]
    return (
        len(long_words) >= PASSPHRASE_WORDS
        and len({w.lower() for w in long_words}) >= PASSPHRASE_WORDS
        and len(password) >= PASSPHRASE_MIN_LENGTH
    )


def is_common(password: str) -> bool:
    folded = password.lower()
    squeezed = WORD_SEPARATORS.sub("", folded)
    common = common_passwords()
    return folded in common or squeezed in common or len(set(folded)) <= 2


def is_guessable(password: str, *, hints: tuple[str, ...] = ()) -> bool:
    """Whether zxcvbn expects it to fall within a million guesses (keyboard walks, years, names + digits)."""
    from zxcvbn import zxcvbn

    return bool(zxcvbn(password[:ZXCVBN_MAX], user_inputs=list(hints))["score"] < MIN_ZXCVBN_SCORE)


def password_problem(password: str, *, email: str | None = None) -> str | None:
    """Why ``password`` cannot be used (a message marked with ``N_``), or None when it can."""
    if not password:
        return N_("Enter a password")
    if len(password) > MAX_LENGTH:
        return N_("Password must be 256 characters or fewer")
    if len(password) < MIN_LENGTH and not is_passphrase(password):
        return N_("Password must be at least 12 characters long, or three random words")
    if is_common(password):
        return N_("Password is one of the most common passwords, so it is too easy to guess. Try three random words")
    if email and _is_email_like(password, email):
        return N_("Password must not be your email address")
    hints = tuple(part for part in re.split(r"[@.+_-]", email or "") if len(part) > 2)
    if is_guessable(password, hints=hints):
        return N_("Password is too easy to guess, for example a keyboard pattern or a word with numbers. Try three random words")
    return None


def _is_email_like(password: str, email: str) -> bool:
    folded = password.lower().strip()
    address = email.lower()
    return folded == address or folded == address.split("@", 1)[0]


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; takes about as long when there is no hash at all."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's."""
    return _hasher.check_needs_rehash(password_hash)
