"""Human references for reports, like ``TUO-7K3M-9QX2``.

Seven random characters from Crockford's base 32 alphabet (no I, L, O or U, so
nothing is mistaken for 1, 0 or V) and a check character computed by the Luhn
mod N algorithm, which catches every single mistyped character and most swaps
of neighbours.
"""

from __future__ import annotations

import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
_N = len(ALPHABET)
PREFIX = "TUO"


def check_character(body: str) -> str:
    factor, total = 2, 0
    for char in reversed(body):
        addend = factor * _VALUE[char]
        factor = 1 if factor == 2 else 2
        total += addend // _N + addend % _N
    return ALPHABET[(_N - total % _N) % _N]


def new_reference() -> str:
    body = "".join(secrets.choice(ALPHABET) for _ in range(7))
    full = body + check_character(body)
    return f"{PREFIX}-{full[:4]}-{full[4:]}"


