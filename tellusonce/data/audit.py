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
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, text, tuple_
from sqlalchemy.orm import Session

from tellusonce.clock import utcnow
from tellusonce.models import AuditEvent

GENESIS = "0" * 64
ADVISORY_LOCK_CLASS = 0x7E11  # "tell us once": the first key of our advisory locks


_EVENTS = cast(Table, AuditEvent.__table__)
# Core statements built once (SQLAlchemy's compiled cache then compiles each once): the two
# statements every event costs (three on PostgreSQL, with the chain's lock).
_CHAIN_LOCK = text("SELECT pg_advisory_xact_lock(:cls, hashtext(:chain))")
_LAST_HASH = select(_EVENTS.c.hash).where(_EVENTS.c.chain == bindparam("chain")).order_by(_EVENTS.c.id.desc()).limit(1)
_APPEND = insert(_EVENTS)


def _digest(e: AuditEvent) -> str:
    return _digest_of(e.prev_hash, e.chain, e.at, e.actor, e.action, e.subject_type, e.subject_id, e.details)


def _digest_of(prev_hash: str, chain: str, at: datetime, actor: str, action: str, subject_type: str,
               subject_id: str, details: dict[str, Any]) -> str:
    body = json.dumps(
        [prev_hash, chain, at.isoformat(timespec="microseconds"), actor, action, subject_type, subject_id, details],
        sort_keys=True, separators=(",", ":"), default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def record_event(session: Session, *, actor: str, action: str, subject_type: str, subject_id: object,
                 details: dict[str, Any] | None = None, at: datetime | None = None, flush: bool = True,
                 plain: bool = False) -> None:
    """Append one event to ``actor``'s chain. ``details`` hold no personal data: ids, counts, states.

    The event is written at once, as a plain row in the caller's transaction (in call
    order, so each chain keeps its order). ``flush=True`` also flushes whatever the
    caller has pending in the session; ``flush=False`` leaves that to its next flush.
    ``plain=True``: ``details`` are JSON values already (strings, numbers, booleans, None, and
    lists and string-keyed dicts of them), so they are hashed and stored as given, with no
    round trip through JSON to make them so.
    """
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(_CHAIN_LOCK, {"cls": ADVISORY_LOCK_CLASS, "chain": actor})
    prev = connection.execute(_LAST_HASH, {"chain": actor}).scalar() or GENESIS
    at = at or utcnow()
    subject = str(subject_id)
    content = (details or {}) if plain else json.loads(json.dumps(details or {}, default=str))
    connection.execute(_APPEND, {
        "chain": actor, "at": at, "actor": actor, "action": action, "subject_type": subject_type,
        "subject_id": subject, "details": content, "prev_hash": prev,
        "hash": _digest_of(prev, actor, at, actor, action, subject_type, subject, content),
    })
    if flush:
        session.flush()


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

