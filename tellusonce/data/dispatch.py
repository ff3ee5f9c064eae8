"""What the dispatch workers read and write besides the outbox itself.

Department health (the circuit breaker, an endpoint disabled by 410 Gone),
the report references a worker looks up for each claim, the feed's fetches,
and worker heartbeats. Claiming and recording are ``tellusonce.data.outbox``.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, case, func, select, update
from sqlalchemy.orm import Session

from tellusonce.data.audit import record_event
from tellusonce.data.driver import changed_rows
from tellusonce.models import ChangeReport, Department, Notification, NotificationState, WorkerHeartbeat

# The circuit opens after this many failures in a row, first for OPEN_BASE, then
# twice as long after each further run of failures, up to OPEN_MAX.
BREAKER_THRESHOLD = 5
OPEN_BASE = timedelta(seconds=30)
OPEN_MAX = timedelta(minutes=10)
HEARTBEAT_FRESH = timedelta(seconds=30)


def all_departments(session: Session) -> list[Department]:
    return list(session.scalars(select(Department).order_by(Department.id)))


def department_channels(session: Session) -> dict[str, str]:
    """Each department's channel, by id."""
    return {row.id: row.channel for row in session.execute(select(Department.id, Department.channel))}


def report_references(session: Session, report_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    ids = list(set(report_ids))
    if not ids:
        return {}
    rows = session.execute(select(ChangeReport.id, ChangeReport.reference)
                           .where(ChangeReport.id.in_(bindparam("ids", expanding=True))), {"ids": ids})
    return {row.id: row.reference for row in rows}


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
    return min(OPEN_BASE * (1 << doublings), OPEN_MAX)


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
    changed = changed_rows(session.execute(
        update(Department).where(Department.id == department_id, Department.endpoint_disabled_at.is_(None))
        .values(endpoint_disabled_at=now, endpoint_disabled_reason=reason[:1000])
    ))
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
    changed = changed_rows(session.execute(
        update(Notification)
        .where(Notification.id.in_(list(notification_ids)), Notification.department_id == department_id,
               Notification.state.in_([NotificationState.PENDING, NotificationState.RETRYING]))
        .values(state=NotificationState.DELIVERED, delivered_at=now, next_attempt_at=None, updated_at=now)
        .execution_options(synchronize_session=False)
    ))
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


def worker_beating_since(session: Session, *, since: datetime) -> bool:
    """Whether a worker started at or after ``since`` has beaten and not stopped."""
    return bool(session.scalar(
        select(func.count()).select_from(WorkerHeartbeat)
        .where(WorkerHeartbeat.stopped_at.is_(None), WorkerHeartbeat.started_at >= since)
    ))
