"""The report journey's session model: the answers kept between pages, in the database.

Only a random journey id travels in Flask's (signed, not encrypted) session
cookie; the answers live in the ``report_journey`` table (``tellusonce.data.journeys``),
bound to the citizen's account. Why not the cookie itself: a cookie holds about
4 KB, and a birth report with long addresses and names in a non-Latin script can
pass that, at which point the browser silently drops the cookie and the citizen's
answers with it; it would also copy a National Insurance number and an address
into every request, readable by anyone who can read the cookie. Why not a file on
the web host: a second host behind the same proxy, or the same host after a crash
or a redeploy, would not find it. Nothing of a citizen's answers is written to the
host's disk.

Each page writes its journey in the request's one transaction (committed by the
request boundary, ``tellusonce.web.database``, only on success). A journey expires a
day after its last change and is swept by the dispatch worker (or ``tellusonce
journeys sweep``); starting a new one forgets the old one. Sending the report
deletes the journey in the transaction that writes the report; the session cookie
(written on that response anyway) then says which report the journey made, and
a request that raced the sending finds the report by the journey's submission key.
"""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import session

from tellusonce.clock import utcnow
from tellusonce.data.journeys import (
    delete_journey,
    load_journey,
    read_journey_row,
    report_for_submission,
    store_journey,
)
from tellusonce.web.database import get_session

SESSION_KEY = "report_journey"
SUBMITTED_KEY = "report_journey_sent"  # [journey id, report id] once the journey in SESSION_KEY is sent
_ID = re.compile(r"^[0-9a-f]{32}$")
_STATE = ("change_type", "answers", "recipients", "consent", "chose_recipients")


@dataclass
class Journey:
    """Everything asked so far in one report; none of it is in a report until it is sent."""

    id: str
    citizen_id: str
    change_type: str
    started_at: str
    answers: dict[str, Any] = field(default_factory=dict)
    # Organisations chosen, and the consent given now ("once" | "always") for those without standing consent.
    recipients: list[str] = field(default_factory=list)
    consent: dict[str, str] = field(default_factory=dict)
    chose_recipients: bool = False
    # Set once submitted (from the session, or the report its key made): a second submit finds the same report.
    report_id: str | None = None
    # The state as read from the database (not changed since): whether another request has written it since.
    stored_state: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    @property
    def submission_key(self) -> str:
        """One per journey, from its random id: submitting twice gives the same key, so one report,
        even once the journey itself is deleted."""
        return f"web-{self.id}"

    @classmethod
    def start(cls, citizen_id: uuid.UUID, change_type: str) -> Journey:
        return cls(id=secrets.token_hex(16), citizen_id=str(citizen_id), change_type=change_type,
                   started_at=utcnow().isoformat())

    @classmethod
    def sent(cls, journey_id: str, citizen_id: uuid.UUID, report_id: str) -> Journey:
        """A journey already sent: all that is left of it is which report it made."""
        return cls(id=journey_id, citizen_id=str(citizen_id), change_type="", started_at="", report_id=report_id)

    def state(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _STATE}

    def set_answers(self, names: tuple[str, ...], values: dict[str, Any]) -> None:
        """Replace the answers to one page's questions. An emptied answer is kept as None: the
        question was answered, so what the account would fill in (a previous address) stays out."""
        for name in names:
            self.answers.pop(name, None)
        self.answers.update({k: (None if v == "" else v) for k, v in values.items()})

    @property
    def submitted(self) -> bool:
        return self.report_id is not None


def _session_journey_id() -> str | None:
    journey_id = session.get(SESSION_KEY)
    return journey_id if isinstance(journey_id, str) and _ID.match(journey_id) else None


def current_journey(citizen_id: uuid.UUID) -> Journey | None:
    """The signed-in citizen's journey, from the id in their session (with its report, once sent)."""
    journey_id = _session_journey_id()
    if journey_id is None:
        return None
    sent = session.get(SUBMITTED_KEY)
    if isinstance(sent, list) and len(sent) == 2 and sent[0] == journey_id and isinstance(sent[1], str):
        return Journey.sent(journey_id, citizen_id, sent[1])
    db = get_session()
    row = load_journey(db, journey_id, citizen_id, now=utcnow())
    if row is None:
        made = report_for_submission(db, citizen_id, Journey.sent(journey_id, citizen_id, "").submission_key)
        return Journey.sent(journey_id, citizen_id, str(made)) if made is not None else None
    return _from_row(row)


def _from_row(row: Any) -> Journey:
    state = row.state
    return Journey(
        id=row.id, citizen_id=str(row.citizen_id), change_type=str(state["change_type"]),
        started_at=row.started_at.isoformat(), answers=dict(state.get("answers") or {}),
        recipients=list(state.get("recipients") or []), consent=dict(state.get("consent") or {}),
        chose_recipients=bool(state.get("chose_recipients")), stored_state=state,
    )


def journey_as_stored(journey: Journey) -> Journey | None:
    """The journey as the database holds it now: ``journey`` itself when no other request has
    written it since it was read, else read afresh (None once gone). For a page that read its
    journey before taking SQLite's write lock (``start_writing``), called after taking it."""
    row = read_journey_row(get_session(), journey.id, uuid.UUID(journey.citizen_id), now=utcnow())
    if row is None:
        return None
    return journey if row.state == journey.stored_state else _from_row(row)


def mark_submitted(journey: Journey, report_id: uuid.UUID) -> None:
    """The journey made this report: its answers are deleted, in the transaction that wrote the
    report, and the session remembers the report, so sending again, or its check page, goes to the
    report's confirmation."""
    delete_journey(get_session(), journey.id, uuid.UUID(journey.citizen_id))
    journey.report_id = str(report_id)
    session[SUBMITTED_KEY] = [journey.id, journey.report_id]


def begin_journey(citizen_id: uuid.UUID, change_type: str) -> Journey:
    """A new journey replaces the one in the session (if any)."""
    db = get_session()
    old = _session_journey_id()
    if old is not None:
        delete_journey(db, old, citizen_id)
    journey = Journey.start(citizen_id, change_type)
    save_journey(journey)
    session[SESSION_KEY] = journey.id
    session.pop(SUBMITTED_KEY, None)
    return journey


def save_journey(journey: Journey) -> None:
    store_journey(get_session(), journey.id, uuid.UUID(journey.citizen_id), journey.state(),
                  started_at=datetime.fromisoformat(journey.started_at), now=utcnow())
