"""The audit trail: append events chained by hash; verify the chain.

Each event's hash covers its content and the previous event's hash, so changing
or deleting any event breaks every link after it. Appends are serialised: on
PostgreSQL by a transaction-scoped advisory lock, on SQLite by its one writer.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from tellusonce.clock import utcnow
from tellusonce.models import AuditEvent

GENESIS = "0" * 64
ADVISORY_LOCK_KEY = 0x7E11_0A0D  # "tell us once, audit"


def _digest(prev_hash: str, at: datetime, actor: str, action: str, subject_type: str, subject_id: str,
            details: dict[str, Any]) -> str:
    body = json.dumps(
        [prev_hash, at.isoformat(timespec="microseconds"), actor, action, subject_type, subject_id, details],
        sort_keys=True, separators=(",", ":"), default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def record_event(session: Session, *, actor: str, action: str, subject_type: str, subject_id: object,
                 details: dict[str, Any] | None = None, at: datetime | None = None) -> AuditEvent:
    """Append one event. ``details`` must hold no personal data: ids, counts, states."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
    else:
        session.flush()
    prev = session.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)) or GENESIS
    at = at or utcnow()
    details = json.loads(json.dumps(details or {}, default=str))
    event = AuditEvent(
        at=at, actor=actor, action=action, subject_type=subject_type, subject_id=str(subject_id),
        details=details, prev_hash=prev,
        hash=_digest(prev, at, actor, action, subject_type, str(subject_id), details),
    )
    session.add(event)
    session.flush()
    return event


@dataclass(frozen=True)
class ChainCheck:
    ok: bool
    checked: int
    broken_at: int | None = None
    problem: str | None = None


def verify_chain(session: Session, *, batch: int = 5000) -> ChainCheck:
    prev = GENESIS
    checked = 0
    last_id = 0
    while True:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.id > last_id).order_by(AuditEvent.id).limit(batch)
        ).all()
        if not events:
            return ChainCheck(True, checked)
        for e in events:
            if e.prev_hash != prev:
                return ChainCheck(False, checked, e.id, "it does not follow the event before it (one was changed or removed)")
            expected = _digest(e.prev_hash, e.at, e.actor, e.action, e.subject_type, e.subject_id, e.details)
            if e.hash != expected:
                return ChainCheck(False, checked, e.id, "its content does not match its hash (it was changed)")
            prev = e.hash
            checked += 1
            last_id = e.id
        session.expunge_all()
