"""What the dispatch workers read and write besides the outbox itself.

Department health (the circuit breaker, an endpoint disabled by 410 Gone),
batch look-ups a worker makes for each claim, and worker heartbeats.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, case, func, insert, select, update
from sqlalchemy.orm import Session

from tellusonce.data.audit import record_event
from tellusonce.data.outbox import PUSH_CHANNELS, _due, _open_departments
from tellusonce.models import (
    AttemptOutcome,
    ChangeReport,
    ConsentGrant,
    DeliveryAttempt,
    Department,
    Notification,
    NotificationState,
    WorkerHeartbeat,
)

# The circuit opens after this many failures in a row, first for OPEN_BASE, then
# twice as long after each further run of failures, up to OPEN_MAX.
BREAKER_THRESHOLD = 5
OPEN_BASE = timedelta(seconds=30)
OPEN_MAX = timedelta(minutes=10)
HEARTBEAT_FRESH = timedelta(seconds=30)


def all_departments(session: Session) -> list[Department]:
    return list(session.scalars(select(Department).order_by(Department.id)))


def report_references(session: Session, report_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    ids = list(set(report_ids))
    if not ids:
        return {}
    rows = session.execute(select(ChangeReport.id, ChangeReport.reference).where(ChangeReport.id.in_(ids)))
    return {row.id: row.reference for row in rows}


def receipts_in_force(session: Session, receipt_ids: Iterable[uuid.UUID], *, now: datetime) -> set[uuid.UUID]:
    """Of these consent receipts, those whose grant is not withdrawn (by ``now``).

    The batch form of ``tellusonce.data.consent.consent_still_allows``, same rule:
    a notification goes out only while the grant it was queued under stands.
    """
    ids = list(set(receipt_ids))
    if not ids:
        return set()
    rows = session.execute(
        select(ConsentGrant.receipt_id, ConsentGrant.withdrawn_at).where(ConsentGrant.receipt_id.in_(ids))
    )
    return {row.receipt_id for row in rows if row.withdrawn_at is None or row.withdrawn_at > now}


# -- claiming many at once --------------------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    """What a worker needs of a claimed notification, without an ORM object per row."""

    id: uuid.UUID
    report_id: uuid.UUID
    department_id: str
    change_type: str
    payload: dict[str, Any]
    consent_receipt_id: uuid.UUID
    created_at: datetime
    attempt_count: int
    lease_expires_at: datetime


def claim_batch(session: Session, *, worker: str, limit: int, lease: timedelta, now: datetime,
                department_ids: Sequence[str]) -> list[Claimed]:
    """``tellusonce.data.outbox.claim_due`` for a worker that claims hundreds at a time.

    The same rows are due and the same departments open (it uses the outbox's own
    conditions), locked the same way (``FOR UPDATE SKIP LOCKED`` on PostgreSQL,
    the one writer on SQLite); it returns plain rows instead of loading an ORM
    object for each, which is most of the cost of a large claim.
    """
    if not department_ids or limit <= 0:
        return []
    n = Notification
    query = (
        select(n.id, n.report_id, n.department_id, n.change_type, n.payload, n.consent_receipt_id, n.created_at,
               n.attempt_count)
        .where(_due(now), n.department_id.in_(list(department_ids)),
               n.department_id.in_(_open_departments(now, PUSH_CHANNELS)))
        .order_by(n.next_attempt_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=n)
    rows = session.execute(query).all()
    if not rows:
        return []
    until = now + lease
    session.execute(
        update(n).where(n.id.in_([row.id for row in rows]))
        .values(state=NotificationState.DELIVERING, claimed_by=worker, lease_expires_at=until, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return [Claimed(*row, lease_expires_at=until) for row in rows]


# -- recording many attempts at once ----------------------------------------------------


@dataclass(frozen=True)
class AttemptRecord:
    notification_id: uuid.UUID
    outcome: str  # an AttemptOutcome
    started_at: datetime
    finished_at: datetime
    status_code: int | None = None
    latency_ms: int | None = None
    error: str | None = None
    # For a retry: the time computed from the attempts made so far (``attempt_count`` + 1);
    # None makes a retry dead (no attempt left).
    next_attempt_at: Callable[[int], datetime | None] | None = None


def record_attempts(session: Session, records: Sequence[AttemptRecord], *, worker: str,
                    now: datetime) -> dict[uuid.UUID, tuple[bool, int, datetime | None]]:
    """The batch form of ``tellusonce.data.outbox.record_attempt``, with the same transitions.

    One SELECT (FOR UPDATE on PostgreSQL) finds which claims ``worker`` still
    holds; one UPDATE per notification (sent as one executemany) moves those on;
    one INSERT (executemany) logs every attempt, as ``lease_lost`` where the claim
    had passed to another worker. Returns, per notification, (held, attempt
    number, next attempt time when it is retried).
    """
    if not records:
        return {}
    ids = [r.notification_id for r in records]
    # Looked up by key alone (the claim is checked below): an index on state would tempt the planner.
    query = select(Notification.id, Notification.attempt_count, Notification.department_id,
                   Notification.claimed_by, Notification.state).where(Notification.id.in_(ids))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    rows = {row.id: row for row in session.execute(query)}
    held = {i: row for i, row in rows.items()
            if row.claimed_by == worker and row.state == NotificationState.DELIVERING}
    # The department acknowledged (through the API) before this worker recorded its delivery:
    # the delivery stands, and the notification is already past it.
    acknowledged = {i for i, row in rows.items() if row.state == NotificationState.ACKNOWLEDGED}
    delivered: list[uuid.UUID] = []
    updates: list[dict[str, Any]] = []
    attempts: list[dict[str, Any]] = []
    outcome_of: dict[uuid.UUID, tuple[bool, int, datetime | None]] = {}
    dead: list[tuple[uuid.UUID, str, AttemptRecord]] = []
    for r in records:
        row = held.get(r.notification_id)
        found = rows.get(r.notification_id)
        number = (found.attempt_count if found is not None else 0) + 1
        next_at = None
        if row is not None and r.outcome == AttemptOutcome.DELIVERED:
            delivered.append(r.notification_id)
        elif row is not None:
            values = _transition(r, number, now)
            next_at = values["next_attempt_at"]
            updates.append({"b_id": r.notification_id, **values})
            if values["state"] == NotificationState.DEAD:
                dead.append((r.notification_id, row.department_id, r))
        stands = row is not None or (r.outcome == AttemptOutcome.DELIVERED and r.notification_id in acknowledged)
        attempts.append({
            "id": uuid.uuid4(), "notification_id": r.notification_id, "number": number, "worker": worker,
            "started_at": r.started_at, "finished_at": r.finished_at,
            "outcome": r.outcome if stands else AttemptOutcome.LEASE_LOST,
            "status_code": r.status_code, "latency_ms": r.latency_ms,
            "error": r.error if stands else f"result '{r.outcome}' arrived after the claim was lost; ignored",
        })
        outcome_of[r.notification_id] = (stands, number, next_at)
    if delivered:
        # The common case in one statement; delivered_at is when the result was recorded,
        # a few milliseconds after the answer (the attempt row has the exact time).
        session.execute(
            update(Notification).where(Notification.id.in_(delivered))
            .values(state=NotificationState.DELIVERED, delivered_at=now, attempt_count=Notification.attempt_count + 1,
                    claimed_by=None, lease_expires_at=None, next_attempt_at=None, last_error=None, updated_at=now)
            .execution_options(synchronize_session=False)
        )
    if updates:
        session.connection().execute(
            update(Notification.__table__).where(Notification.__table__.c.id == bindparam("b_id")),
            updates,
        )
    session.connection().execute(insert(DeliveryAttempt.__table__), attempts)
    for notification_id, department_id, r in dead:
        record_event(session, actor=f"worker:{worker}", action="notification.dead", subject_type="notification",
                     subject_id=notification_id, details={"department": department_id, "outcome": r.outcome,
                                                          "status_code": r.status_code}, at=now)
    return outcome_of


def _transition(r: AttemptRecord, number: int, now: datetime) -> dict[str, Any]:
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


# -- department health ------------------------------------------------------------------


@dataclass(frozen=True)
class Health:
    department_id: str
    consecutive_failures: int
    circuit_open_until: datetime | None

    @property
    def opened(self) -> bool:
        return self.circuit_open_until is not None


def open_period(consecutive_failures: int) -> timedelta:
    doublings = min(max(consecutive_failures - BREAKER_THRESHOLD, 0), 10)
    return min(OPEN_BASE * (2**doublings), OPEN_MAX)


def note_delivery_health(session: Session, department_id: str, *, succeeded: bool, failures: int,
                         now: datetime) -> Health:
    """Feed one batch's results for a department into its circuit breaker.

    A success closes the circuit. Failures (network, timeout, 5xx, 429) add up to
    ``BREAKER_THRESHOLD``, where the circuit opens: the department's notifications
    are not claimed until it closes, and then one is tried first. Each further
    failed batch (usually that one trial) doubles the time it stays open.
    """
    if succeeded:
        session.execute(
            update(Department).where(Department.id == department_id,
                                     (Department.consecutive_failures != 0) | Department.circuit_open_until.is_not(None))
            .values(consecutive_failures=0, circuit_open_until=None)
        )
        return Health(department_id, 0, None)
    current = Department.consecutive_failures
    count = session.scalar(
        update(Department).where(Department.id == department_id)
        .values(consecutive_failures=case(
            (current >= BREAKER_THRESHOLD, current + 1),
            (current + failures >= BREAKER_THRESHOLD, BREAKER_THRESHOLD),
            else_=current + failures,
        ))
        .returning(Department.consecutive_failures)
    ) or 0
    until = None
    if count >= BREAKER_THRESHOLD:
        until = now + open_period(count)
        session.execute(update(Department).where(Department.id == department_id).values(circuit_open_until=until))
    return Health(department_id, count, until)


def disable_endpoint(session: Session, department_id: str, *, reason: str, now: datetime, actor: str) -> None:
    """A 410 Gone: stop delivering to this department until an operator enables it again."""
    changed = session.execute(
        update(Department).where(Department.id == department_id, Department.endpoint_disabled_at.is_(None))
        .values(endpoint_disabled_at=now, endpoint_disabled_reason=reason[:1000])
    ).rowcount
    if changed:
        record_event(session, actor=actor, action="department.endpoint_disabled", subject_type="department",
                     subject_id=department_id, details={"reason": reason[:200]}, at=now)


def enable_endpoint(session: Session, department_id: str, *, now: datetime, actor: str = "operator") -> bool:
    department = session.get(Department, department_id)
    if department is None:
        return False
    department.endpoint_disabled_at = None
    department.endpoint_disabled_reason = None
    department.consecutive_failures = 0
    department.circuit_open_until = None
    record_event(session, actor=actor, action="department.endpoint_enabled", subject_type="department",
                 subject_id=department_id, details={}, at=now)
    session.flush()
    return True


# -- the feed ---------------------------------------------------------------------------


def mark_fetched(session: Session, department_id: str, notification_ids: Sequence[uuid.UUID], *,
                 now: datetime) -> int:
    """A feed department has fetched these: what was waiting for it is now delivered.

    Only notifications still waiting (pending or retrying) change; consent
    withdrawn before the fetch has already cancelled them, so they are not listed.
    """
    if not notification_ids:
        return 0
    changed = session.execute(
        update(Notification)
        .where(Notification.id.in_(list(notification_ids)), Notification.department_id == department_id,
               Notification.state.in_([NotificationState.PENDING, NotificationState.RETRYING]))
        .values(state=NotificationState.DELIVERED, delivered_at=now, next_attempt_at=None, updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed:
        record_event(session, actor=f"department:{department_id}", action="notifications.fetched",
                     subject_type="department", subject_id=department_id, details={"count": changed}, at=now)
    return changed


# -- heartbeats -------------------------------------------------------------------------


def beat(session: Session, *, worker: str, started_at: datetime, now: datetime, delivered: int = 0,
         failed: int = 0, stopped: bool = False) -> None:
    row = session.get(WorkerHeartbeat, worker)
    if row is None:
        row = WorkerHeartbeat(worker=worker, hostname=socket.gethostname()[:255], pid=os.getpid(),
                              started_at=started_at, beat_at=now, delivered=0, failed=0)
        session.add(row)
    row.beat_at = now
    row.delivered = delivered
    row.failed = failed
    row.stopped_at = now if stopped else None
    session.flush()


@dataclass(frozen=True)
class WorkerStatus:
    state: str  # "ok" | "stale" | "none"
    running: int
    last_beat: datetime | None


def worker_status(session: Session, *, now: datetime) -> WorkerStatus:
    """Whether some worker has beaten recently (and how many are running)."""
    last = session.scalar(select(func.max(WorkerHeartbeat.beat_at)).where(WorkerHeartbeat.stopped_at.is_(None)))
    running = session.scalar(
        select(func.count()).select_from(WorkerHeartbeat)
        .where(WorkerHeartbeat.stopped_at.is_(None), WorkerHeartbeat.beat_at >= now - HEARTBEAT_FRESH)
    ) or 0
    if last is None:
        return WorkerStatus("none", 0, None)
    return WorkerStatus("ok" if running else "stale", running, last)
