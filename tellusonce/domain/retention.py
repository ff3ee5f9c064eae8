"""The retention schedule: how long each kind of data is kept and what happens then.

``config/retention.toml`` (``TELLUSONCE_RETENTION``) is checked here, at start-up, like the
department registry (``tellusonce.config_files`` reads the file; the rules here take its text): a
file with a mistake stops every command with one line naming the line of the file and what is wrong. The same schedule drives ``tellusonce retention run`` (and the dispatcher's
runs) and the privacy page, so what the page says is what the service does.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, NoReturn

from tellusonce.domain.toml_files import parse_toml


class Kind(StrEnum):
    """Each kind of data the service holds that has a period, in the order the privacy page lists them."""

    JOURNEYS = "journeys"
    INBOUND_PROCESSED = "inbound_processed"
    INBOUND_QUARANTINED = "inbound_quarantined"
    OUTGOING_EMAIL = "outgoing_email"
    EMAIL_TOKENS = "email_tokens"
    NOTIFICATION_PAYLOADS = "notification_payloads"
    DEAD_LETTERS = "dead_letters"
    DELIVERY_ATTEMPTS = "delivery_attempts"
    SIGN_INS = "sign_ins"
    DATA_RIGHTS_REQUESTS = "data_rights_requests"
    REPORT_NOTICES = "report_notices"
    CLOSED_ACCOUNTS = "closed_accounts"
    AUDIT_EVENTS = "audit_events"


class Action(StrEnum):
    DELETE = "delete"  # the rows go
    BLANK = "blank"  # the personal fields are emptied (addresses hashed), the rows and their counts stay


# What each kind can have done to it. A notification stays (the citizen's ledger of who was told
# what and when), its payload blanked; an audit event, a token, a journey or an attempt holds
# nothing worth keeping once its content is gone.
ACTIONS: dict[Kind, tuple[Action, ...]] = {
    Kind.JOURNEYS: (Action.DELETE,),
    Kind.INBOUND_PROCESSED: (Action.BLANK, Action.DELETE),
    Kind.INBOUND_QUARANTINED: (Action.BLANK, Action.DELETE),
    Kind.OUTGOING_EMAIL: (Action.BLANK, Action.DELETE),
    Kind.EMAIL_TOKENS: (Action.DELETE,),
    Kind.NOTIFICATION_PAYLOADS: (Action.BLANK,),
    Kind.DEAD_LETTERS: (Action.BLANK,),
    Kind.DELIVERY_ATTEMPTS: (Action.DELETE,),
    Kind.SIGN_INS: (Action.DELETE,),
    Kind.DATA_RIGHTS_REQUESTS: (Action.DELETE,),
    Kind.REPORT_NOTICES: (Action.DELETE,),
    Kind.CLOSED_ACCOUNTS: (Action.BLANK,),  # the rows stay, blanked: the record of who was told what
    Kind.AUDIT_EVENTS: (Action.DELETE,),
}

UNITS = {"day": 1, "week": 7, "year": 0}
PERIOD = re.compile(r"^\s*(\d{1,4})\s+(day|week|year)s?\s*$")
KEYS = {"keep", "then", "reason", "reason_cy"}


class RetentionError(ValueError):
    """The schedule cannot be used; the message says where and why."""


@dataclass(frozen=True)
class Period:
    count: int
    unit: str  # day, week or year

    @property
    def days(self) -> int:
        """The period in days, a year counted as 365 (for a page that says "for 30 days")."""
        return self.count * (365 if self.unit == "year" else UNITS[self.unit])

    def cutoff(self, now: datetime) -> datetime:
        """Data whose time is before this has been kept for the period."""
        if self.unit == "year":
            year = now.year - self.count
            try:
                return now.replace(year=year)
            except ValueError:  # 29 February, in a year that has none
                return now.replace(year=year, day=28)
        return now - timedelta(days=self.count * UNITS[self.unit])

    def __str__(self) -> str:
        return f"{self.count} {self.unit}{'' if self.count == 1 else 's'}"


@dataclass(frozen=True)
class Rule:
    kind: Kind
    keep: Period
    then: Action
    reason: str
    reason_cy: str

    def reason_in(self, language: str) -> str:
        return self.reason_cy if language == "cy" else self.reason


@dataclass(frozen=True)
class Schedule:
    path: Path
    rules: tuple[Rule, ...]

    def rule(self, kind: Kind) -> Rule:
        return next(rule for rule in self.rules if rule.kind == kind)


def parse_schedule(text: str, path: Path) -> Schedule:
    """Check the schedule ``text`` (read from ``path``, which messages name): one table per kind,
    every kind present."""
    document, lines = parse_toml(text, path, RetentionError)
    checker = _Checker(path, lines)
    rules = [checker.rule(name, table) for name, table in document.items()]
    missing = [kind.value for kind in Kind if kind.value not in document]
    if missing:
        raise RetentionError(f"{path}: no period for {', '.join(missing)}; every kind of data needs one "
                             f"([{missing[0]}] with keep, then, reason and reason_cy).")
    order = list(Kind)
    return Schedule(path, tuple(sorted(rules, key=lambda rule: order.index(rule.kind))))


class _Checker:
    def __init__(self, path: Path, lines: Sequence[str]) -> None:
        self.path = path
        self.lines = lines

    def line_of(self, table: str, key: str | None) -> int | None:
        header = re.compile(rf"^\s*\[\s*{re.escape(table)}\s*\]")
        start = next((i for i, line in enumerate(self.lines) if header.match(line)), None)
        if start is None or key is None:
            return None if start is None else start + 1
        pattern = re.compile(rf"^\s*\"?{re.escape(key)}\"?\s*=")
        for i in range(start + 1, len(self.lines)):
            if self.lines[i].lstrip().startswith("["):
                break
            if pattern.match(self.lines[i]):
                return i + 1
        return start + 1

    def fail(self, table: str, key: str | None, problem: str) -> NoReturn:
        line = self.line_of(table, key)
        where = f"{self.path}:{line}" if line else str(self.path)
        field = f", field {key!r}" if key else ""
        raise RetentionError(f"{where}: [{table}]{field}: {problem}.")

    def rule(self, name: str, table: Any) -> Rule:
        if name not in {kind.value for kind in Kind}:
            self.fail(name, None, f"unknown kind of data{_suggest(name, [k.value for k in Kind])}; "
                                  f"known: {', '.join(Kind)}")
        kind = Kind(name)
        if not isinstance(table, dict):
            self.fail(name, None, "must be a table with keep, then, reason and reason_cy")
        for key in table:
            if key not in KEYS:
                self.fail(name, key, f"unknown field{_suggest(key, KEYS)}")
        for key in sorted(KEYS - set(table)):
            self.fail(name, None, f"is missing the field {key!r}")
        keep = table["keep"]
        match = PERIOD.match(keep) if isinstance(keep, str) else None
        if match is None or int(match.group(1)) < 1:
            self.fail(name, "keep", 'must be a period like "30 days", "2 weeks" or "6 years"')
        then = table["then"]
        allowed = [action.value for action in ACTIONS[kind]]
        if then not in allowed:
            self.fail(name, "then", f"must be {' or '.join(repr(a) for a in allowed)} for {name}"
                                    f"{_suggest(str(then), allowed)}")
        for key in ("reason", "reason_cy"):
            if not isinstance(table[key], str) or not table[key].strip():
                self.fail(name, key, "must say, in a sentence a citizen reads on the privacy page, why it is kept "
                                     "that long" + (" (in Welsh)" if key == "reason_cy" else ""))
        return Rule(kind, Period(int(match.group(1)), match.group(2)), Action(then),
                    " ".join(table["reason"].split()), " ".join(table["reason_cy"].split()))


def _suggest(word: str, choices: Any) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
