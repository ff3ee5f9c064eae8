"""The audit trail: append events chained by hash; verify the chains.

Each actor's events form a chain: every event's hash covers its content and the
previous event's hash in the same chain, so changing or deleting any event
breaks every link after it. Appends to one chain are serialised (on PostgreSQL
by a transaction-scoped advisory lock on the chain, on SQLite by its one
writer); different chains never wait for each other.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, text, tuple_
from sqlalchemy.orm import Session

from tellusonce.clock import utcnow
from tellusonce.models import AuditEvent

GENESIS = "0" * 64
ADVISORY_LOCK_CLASS = 0x7E11  # "tell us once": the first key of our advisory locks


def _digest(e: AuditEvent) -> str:
    body = json.dumps(
        [e.prev_hash, e.chain, e.at.isoformat(timespec="microseconds"), e.actor, e.action, e.subject_type,
         e.subject_id, e.details],
        sort_keys=True, separators=(",", ":"), default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def record_event(session: Session, *, actor: str, action: str, subject_type: str, subject_id: object,
                 details: dict[str, Any] | None = None, at: datetime | None = None, flush: bool = True) -> AuditEvent:
    """Append one event to ``actor``'s chain. ``details`` hold no personal data: ids, counts, states.

    ``flush=False`` leaves the event to the caller's next flush (or commit), to be written
    with what follows it; the chain's lock is already held, so nothing can come between.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:cls, hashtext(:chain))"),
                        {"cls": ADVISORY_LOCK_CLASS, "chain": actor})
    prev = session.scalar(
        select(AuditEvent.hash).where(AuditEvent.chain == actor).order_by(AuditEvent.id.desc()).limit(1)
    ) or GENESIS
    event = AuditEvent(
        chain=actor, at=at or utcnow(), actor=actor, action=action, subject_type=subject_type,
        subject_id=str(subject_id), details=json.loads(json.dumps(details or {}, default=str)), prev_hash=prev,
    )
    event.hash = _digest(event)
    session.add(event)
    if flush:
        session.flush()
    return event


@dataclass(frozen=True)
class ChainCheck:
    ok: bool
    checked: int
    chains: int = 0
    broken_at: int | None = None
    problem: str | None = None


def verify_chain(session: Session, *, batch: int = 5000) -> ChainCheck:
    """Walk every chain in order; report the first event that does not fit."""
    checked = chains = 0
    chain, prev = None, GENESIS
    position: tuple[str, int] | None = None
    while True:
        query = select(AuditEvent).order_by(AuditEvent.chain, AuditEvent.id).limit(batch)
        if position is not None:
            query = query.where(tuple_(AuditEvent.chain, AuditEvent.id) > position)
        events = session.scalars(query).all()
        if not events:
            return ChainCheck(True, checked, chains)
        for e in events:
            if e.chain != chain:
                chain, prev, chains = e.chain, GENESIS, chains + 1
            if e.prev_hash != prev:
                return ChainCheck(False, checked, chains, e.id,
                                  "it does not follow the event before it (one was changed or removed)")
            if e.hash != _digest(e):
                return ChainCheck(False, checked, chains, e.id, "its content does not match its hash (it was changed)")
            prev = e.hash
            checked += 1
            position = (e.chain, e.id)
        session.expunge_all()

