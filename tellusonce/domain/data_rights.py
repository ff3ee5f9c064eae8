"""Whether an email asks for a data right, and by when it must be answered (UK GDPR Art. 12(3)).

An email to the change address that asks for access to, correction of or erasure of personal
data, or otherwise names data protection, is for a person, not for the robot that reads changes:
``rights_asked`` finds what it asks for in English or Welsh. ``answer_due`` is one calendar
month from the day it arrived, as the ICO counts it: the same day of the next month, or that
month's last day when it has no such day (a request of 31 January is due on 28 or 29 February).
"""

from __future__ import annotations

import calendar
import re
from datetime import date
from enum import StrEnum


class Right(StrEnum):
    ACCESS = "access"
    ERASURE = "erasure"
    RECTIFICATION = "rectification"
    DATA_PROTECTION = "data_protection"  # named, without saying which right


# Phrases, matched as whole words in any case, in English and Welsh (with the soft and nasal
# mutations a Welsh writer uses: "fy nata", "dileu fy nghyfrif").
_PHRASES: dict[Right, tuple[str, ...]] = {
    Right.ACCESS: (
        r"subject[- ]access", r"\bSARs?\b", r"access (?:to )?my (?:personal )?(?:data|information)",
        r"copy of (?:all )?(?:the |my )?(?:personal )?(?:data|information)(?: you hold)?",
        r"what (?:personal )?(?:data|information) (?:do )?you hold", r"right of access",
        r"cais (?:am )?(?:fynediad|mynediad) (?:at )?(?:ddata|data|wybodaeth)", r"cais gwrthrych am wybodaeth",
        r"copi o(?:’r|'r)? (?:fy )?(?:nata|data|ngwybodaeth|gwybodaeth)",
    ),
    Right.ERASURE: (
        r"eras(?:e|ure)", r"right to be forgotten", r"delete (?:all )?(?:of )?my (?:personal )?(?:data|information|details|account)",
        r"remove (?:all )?(?:of )?my (?:personal )?(?:data|information|details)",
        r"dileu (?:fy )?(?:nata|data|ngwybodaeth|gwybodaeth|manylion|nghyfrif|cyfrif)", r"hawl i gael (?:fy |eich )?anghofio",
    ),
    Right.RECTIFICATION: (
        r"rectif(?:y|ication)", r"correct (?:the )?(?:personal )?(?:data|information) you hold",
        r"cywiro (?:fy )?(?:nata|data|ngwybodaeth|gwybodaeth)",
    ),
    Right.DATA_PROTECTION: (
        r"\bU?K? ?GDPR\b", r"data protection", r"diogelu data", r"\bRhGDD\b",
    ),
}
_PATTERNS = {right: re.compile("|".join(f"(?:{p})" for p in phrases), re.IGNORECASE)
             for right, phrases in _PHRASES.items()}


def rights_asked(text: str) -> list[Right]:
    """The rights ``text`` asks for or names, in the order of ``Right``; empty when none."""
    return [right for right, pattern in _PATTERNS.items() if pattern.search(text)]


def answer_due(received: date) -> date:
    """The last day to answer a request received on ``received``: one calendar month on."""
    year, month = (received.year + 1, 1) if received.month == 12 else (received.year, received.month + 1)
    return date(year, month, min(received.day, calendar.monthrange(year, month)[1]))
