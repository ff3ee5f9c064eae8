"""The outbox: how dispatchers claim notifications and record what happened.

The one home of the outbox state machine. Claims are leases: a worker claims due
rows in one statement (``UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED)
RETURNING …`` on PostgreSQL, so many workers on many machines share the work; on
SQLite the one writer lock does the same), and every later change to a claimed
row is conditional on the claim still being that worker's: a result that arrives
after the lease passed to another worker changes nothing but the attempt log
(outcome ``lease_lost``) and says so. The one exception is a *delivered* result
for a notification its department has already acknowledged: the delivery stands.

Claims and records are batches of plain values (no ORM object per row): that is
most of what a worker costs per notification.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import and_, bindparam, case, func, insert, or_, select, union_all, update
from sqlalchemy.orm import Session

from tellusonce.data.audit import record_event
from tellusonce.models import (
    AttemptOutcome,
    ChannelKind,
    DeliveryAttempt,
    Department,
    Notification,
    NotificationState,
)
from tellusonce.models.outbox import CLAIMABLE

PUSH_CHANNELS = (ChannelKind.WEBHOOK, ChannelKind.EMAIL)
_N = Notification.__table__
_ATTEMPTS = DeliveryAttempt.__table__
# A list of notification ids bound as one parameter: no expression built per id.
_IDS = bindparam("ids", expanding=True, type_=_N.c.id.type)


def _due(now: datetime):  # type: ignore[no-untyped-def]
    # The first condition alone narrows by index (department_id, state, next_attempt_at).
    return and_(
        _N.c.state.in_(CLAIMABLE),
        or_(
            and_(_N.c.state.in_([NotificationState.PENDING, NotificationState.RETRYING]),
                 _N.c.next_attempt_at <= now),
            and_(_N.c.state == NotificationState.DELIVERING, _N.c.lease_expires_at <= now),
        ),
    )


def _open_departments(now: datetime, channels: Sequence[str]):  # type: ignore[no-untyped-def]
    return select(Department.id).where(
        Department.active.is_(True),
        Department.channel.in_(list(channels)),
        Department.endpoint_disabled_at.is_(None),
        or_(Department.circuit_open_until.is_(None), Department.circuit_open_until <= now),
    )


# -- claiming ---------------------------------------------------------------------------


class Claimed(NamedTuple):
    """What a worker needs of a claimed notification, read as a plain row."""

    id: uuid.UUID
    report_id: uuid.UUID
    department_id: str
    change_type: str
    payload: dict[str, Any]
    consent_receipt_id: uuid.UUID
    created_at: datetime
    next_attempt_at: datetime | None
    attempt_count: int
    lease_expires_at: datetime


_CLAIMED_COLUMNS = (_N.c.id, _N.c.report_id, _N.c.department_id, _N.c.change_type, _N.c.payload,
                    _N.c.consent_receipt_id, _N.c.created_at, _N.c.next_attempt_at, _N.c.attempt_count,
                    _N.c.lease_expires_at)


def claim_due(
    session: Session,
    *,
    worker: str,
    limit: int,
    lease: timedelta,
    now: datetime,
    department_ids: Sequence[str] | None = None,
    per_department: int | Mapping[str, int] | None = None,
    channels: Sequence[str] = PUSH_CHANNELS,
) -> list[Claimed]:
    """Claim up to ``limit`` due notifications for ``worker`` until ``now + lease``, in one statement.

    Departments that are inactive, disabled (410) or whose circuit is open are
    skipped. ``per_department`` caps how many one department may take of the
    batch (one number for all, or a share per department id; a department absent
    from the mapping takes none), so a department with a large backlog cannot
    crowd the others out: the batch takes each department's oldest first, then
    each one's second oldest, and so on.
    """
    if limit <= 0 or (department_ids is not None and not department_ids) or (
            isinstance(per_department, Mapping) and not any(v > 0 for v in per_department.values())):
        return []
    conditions = [_due(now), _N.c.department_id.in_(_open_departments(now, channels))]
    if department_ids is not None:
        conditions.append(_N.c.department_id.in_(list(department_ids)))
    lock = session.get_bind().dialect.name == "postgresql"
    if per_department:
        if not isinstance(per_department, Mapping):
            everyone = department_ids if department_ids is not None else session.scalars(
                _open_departments(now, channels)).all()
            per_department = dict.fromkeys(everyone, per_department)
        chosen = _in_turns(per_department, conditions, limit, lock=lock)
    else:
        chosen = select(_N.c.id).where(*conditions).order_by(_N.c.next_attempt_at).limit(limit)
        if lock:
            chosen = chosen.with_for_update(skip_locked=True, of=_N)
    rows = session.execute(
        update(_N).where(_N.c.id.in_(chosen.scalar_subquery()))
        .values(state=NotificationState.DELIVERING, claimed_by=worker, lease_expires_at=now + lease, updated_at=now)
        .returning(*_CLAIMED_COLUMNS)
    ).all()
    return sorted((Claimed(*row) for row in rows), key=_claim_order)


def _in_turns(shares: Mapping[str, int], conditions: list[Any], limit: int, *, lock: bool):  # type: ignore[no-untyped-def]
    """The ids of each department's oldest due notifications up to its share (one index range
    each, locked there with SKIP LOCKED on PostgreSQL), then, when they are more than
    ``limit``, each one's oldest first, then second, …"""
    parts = []
    for department_id, share in shares.items():
        if share > 0:
            part = (select(_N.c.id, _N.c.department_id, _N.c.next_attempt_at)
                    .where(_N.c.department_id == department_id, *conditions)
                    .order_by(_N.c.next_attempt_at).limit(min(share, limit)))
            if lock:
                part = part.with_for_update(skip_locked=True, of=_N)
            parts.append(part.subquery().select())
    candidates = union_all(*parts).subquery() if len(parts) > 1 else parts[0].subquery()
    if sum(shares.values()) <= limit:
        return select(candidates.c.id)
    rank = func.row_number().over(partition_by=candidates.c.department_id, order_by=candidates.c.next_attempt_at)
    ranked = select(candidates.c.id, candidates.c.next_attempt_at, rank.label("rank")).subquery()
    return select(ranked.c.id).order_by(ranked.c.rank, ranked.c.next_attempt_at).limit(limit)


def _claim_order(claimed: Claimed) -> tuple[bool, datetime]:
    at = claimed.next_attempt_at
    return (at is None, at if at is not None else claimed.created_at)


# -- recording --------------------------------------------------------------------------


@dataclass(frozen=True)
class AttemptRecord:
    notification_id: uuid.UUID
    outcome: str  # an AttemptOutcome
    started_at: datetime
    finished_at: datetime
    status_code: int | None = None
    latency_ms: int | None = None
    error: str | None = None
    # For a retry: the time computed from the attempt's number (``attempt_count`` + 1);
    # None, or a function that returns None, makes a retry dead (no attempt left).
    next_attempt_at: Callable[[int], datetime | None] | None = None


AttemptResult = tuple[bool, int, datetime | None]  # (the result stood, attempt number, next attempt if retried)


def record_attempts(session: Session, records: Sequence[AttemptRecord], *, worker: str,
                    now: datetime) -> dict[uuid.UUID, AttemptResult]:
    """Record delivery attempts and move each notification on; one entry per notification.

    Deliveries whose claim ``worker`` still holds move on in one
    ``UPDATE … RETURNING`` (the common case); the rest are read once (locked on
    PostgreSQL) and moved on with one executemany; every attempt is logged with
    one executemany INSERT. A result whose claim has passed to another worker
    changes nothing but the log, where its outcome is ``lease_lost``; except a
    delivery of a notification its department has already acknowledged, which
    stands (the notification is already past it).
    """
    if not records:
        return {}
    numbers: dict[uuid.UUID, int] = {}
    delivered = [r.notification_id for r in records if r.outcome == AttemptOutcome.DELIVERED]
    if delivered:
        numbers = dict(session.execute(
            update(_N)
            .where(_N.c.id.in_(_IDS), _N.c.claimed_by == worker, _N.c.state == NotificationState.DELIVERING)
            .values(state=NotificationState.DELIVERED, delivered_at=now, attempt_count=_N.c.attempt_count + 1,
                    claimed_by=None, lease_expires_at=None, next_attempt_at=None, last_error=None, updated_at=now)
            .returning(_N.c.id, _N.c.attempt_count),
            {"ids": delivered},
        ).all())
    rest = [r.notification_id for r in records if r.notification_id not in numbers]
    rows: dict[uuid.UUID, Any] = {}
    if rest:
        # Looked up by key alone (the claim is checked below): an index on state would tempt the planner.
        query = select(_N.c.id, _N.c.attempt_count, _N.c.department_id, _N.c.claimed_by, _N.c.state).where(
            _N.c.id.in_(_IDS))
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update()
        rows = {row.id: row for row in session.execute(query, {"ids": rest})}
    updates: list[dict[str, Any]] = []
    attempts: list[dict[str, Any]] = []
    outcome_of: dict[uuid.UUID, AttemptResult] = {}
    dead: list[tuple[uuid.UUID, str, AttemptRecord]] = []
    random = os.urandom(16 * len(records))  # the attempts' ids: one system call, not one each
    for i, r in enumerate(records):
        next_at = None
        if r.notification_id in numbers:
            stands, number = True, numbers[r.notification_id]
        else:
            row = rows.get(r.notification_id)
            number = (row.attempt_count if row is not None else 0) + 1
            held = row is not None and row.claimed_by == worker and row.state == NotificationState.DELIVERING
            # Not held here means a delivery can only stand if the department acknowledged it already.
            stands = (held and r.outcome != AttemptOutcome.DELIVERED) or (
                row is not None and r.outcome == AttemptOutcome.DELIVERED
                and row.state == NotificationState.ACKNOWLEDGED)
            if held and r.outcome != AttemptOutcome.DELIVERED:
                values = _transition(r, number, now)
                next_at = values["next_attempt_at"]
                updates.append({"b_id": r.notification_id, **values})
                if values["state"] == NotificationState.DEAD:
                    dead.append((r.notification_id, row.department_id, r))
        attempts.append({
            "id": uuid.UUID(bytes=random[16 * i:16 * i + 16], version=4),
            "notification_id": r.notification_id, "number": number, "worker": worker,
            "started_at": r.started_at, "finished_at": r.finished_at,
            "outcome": r.outcome if stands else AttemptOutcome.LEASE_LOST,
            "status_code": r.status_code, "latency_ms": r.latency_ms,
            "error": r.error if stands else f"result '{r.outcome}' arrived after the claim was lost; ignored",
        })
        outcome_of[r.notification_id] = (stands, number, next_at)
    connection = session.connection()
    if updates:
        connection.execute(update(_N).where(_N.c.id == bindparam("b_id")), updates)
    connection.execute(insert(_ATTEMPTS), attempts)
    for notification_id, department_id, r in dead:
        record_event(session, actor=f"worker:{worker}", action="notification.dead", subject_type="notification",
                     subject_id=notification_id, details={"department": department_id, "outcome": r.outcome,
                                                          "status_code": r.status_code}, at=now)
    return outcome_of


def _transition(r: AttemptRecord, number: int, now: datetime) -> dict[str, Any]:
    """Where a failed or cancelled attempt leaves a notification whose claim was held."""
    values: dict[str, Any] = {
        "claimed_by": None, "lease_expires_at": None, "attempt_count": number, "updated_at": now,
        "state": NotificationState.DEAD, "dead_at": now, "next_attempt_at": None, "last_error": r.error,
        "cancelled_at": None,
    }
    if r.outcome == AttemptOutcome.RETRY and r.next_attempt_at is not None:
        next_at = r.next_attempt_at(number)
        if next_at is not None:
            values.update(state=NotificationState.RETRYING, next_attempt_at=next_at, dead_at=None)
            return values
    if r.outcome == AttemptOutcome.CANCELLED:
        values.update(state=NotificationState.CANCELLED, cancelled_at=now, dead_at=None)
    return values


def release_claims(session: Session, *, worker: str, now: datetime) -> int:
    """Give back every claim ``worker`` holds (on shutdown), due at once for another worker."""
    return session.execute(
        update(Notification)
        .where(Notification.claimed_by == worker, Notification.state == NotificationState.DELIVERING)
        .values(
            state=case((Notification.attempt_count == 0, NotificationState.PENDING), else_=NotificationState.RETRYING),
            claimed_by=None, lease_expires_at=None, next_attempt_at=now,
        )
        .execution_options(synchronize_session=False)
    ).rowcount


def acknowledge(session: Session, *, department_id: str, notification_id: uuid.UUID, now: datetime) -> Notification | None:
    """A department says it has the notification. Only its own; another's is not found."""
    notification = session.scalar(
        select(Notification).where(Notification.id == notification_id, Notification.department_id == department_id)
    )
    if notification is None:
        return None
    if notification.state != NotificationState.ACKNOWLEDGED:
        notification.state = NotificationState.ACKNOWLEDGED
        notification.acknowledged_at = now
        notification.delivered_at = notification.delivered_at or now
        notification.next_attempt_at = None
        notification.claimed_by = None
        notification.lease_expires_at = None
        record_event(session, actor=f"department:{department_id}", action="notification.acknowledged",
                     subject_type="notification", subject_id=notification.id, details={}, at=now)
        session.flush()
    return notification


def dead_letters(session: Session, *, department_id: str | None = None, since: datetime | None = None,
                 limit: int = 500) -> Sequence[Notification]:
    query = select(Notification).where(Notification.state == NotificationState.DEAD)
    if department_id:
        query = query.where(Notification.department_id == department_id)
    if since:
        query = query.where(Notification.dead_at >= since)
    return session.scalars(query.order_by(Notification.dead_at).limit(limit)).all()


def replay_dead(session: Session, *, department_id: str | None = None, since: datetime | None = None,
                now: datetime, actor: str = "operator") -> int:
    """Put dead letters back in the queue, due now, with a fresh retry schedule."""
    conditions = [Notification.state == NotificationState.DEAD]
    if department_id:
        conditions.append(Notification.department_id == department_id)
    if since:
        conditions.append(Notification.dead_at >= since)
    count = session.execute(
        update(Notification)
        .where(*conditions)
        .values(state=NotificationState.PENDING, next_attempt_at=now, dead_at=None, attempt_count=0)
        .execution_options(synchronize_session=False)
    ).rowcount
    record_event(session, actor=actor, action="dead_letters.replayed", subject_type="department",
                 subject_id=department_id or "*", details={"count": count, "since": since}, at=now)
    return count


def notifications_for_department(session: Session, department_id: str, *, after: uuid.UUID | None = None,
                                 limit: int = 100) -> list[Notification]:
    """A department's feed, oldest first, continuing after the notification ``after``."""
    query = select(Notification).where(
        Notification.department_id == department_id,
        Notification.state != NotificationState.CANCELLED,
    )
    if after is not None:
        cursor = session.scalar(
            select(Notification).where(Notification.id == after, Notification.department_id == department_id)
        )
        if cursor is not None:
            query = query.where(
                or_(Notification.created_at > cursor.created_at,
                    and_(Notification.created_at == cursor.created_at, Notification.id > cursor.id))
            )
    return list(session.scalars(query.order_by(Notification.created_at, Notification.id).limit(limit)))


def get_for_department(session: Session, department_id: str, notification_id: uuid.UUID) -> Notification | None:
    return session.scalar(
        select(Notification).where(Notification.id == notification_id, Notification.department_id == department_id)
    )
