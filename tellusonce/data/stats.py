"""Counts for /metrics: queues by state and department, attempts, latency, the oldest wait.

Counts only: no personal data leaves through these.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, or_, select, text
from sqlalchemy.orm import Session

from tellusonce.models import DeliveryTally, Department, Notification, NotificationState
from tellusonce.models.outbox import DEAD_SQL

# Latency buckets in seconds, up to the 15 s request timeout.
LATENCY_BUCKETS: tuple[float, ...] = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0)
WAITING = (NotificationState.PENDING, NotificationState.RETRYING, NotificationState.DELIVERING)


def notifications_by_state(session: Session) -> list[tuple[str, str, int]]:
    """(department, state, count) for every pair that has notifications."""
    rows = session.execute(
        select(Notification.department_id, Notification.state, func.count())
        .group_by(Notification.department_id, Notification.state)
    )
    return [(d, s, n) for d, s, n in rows]


def attempts_by_outcome(session: Session) -> list[tuple[str, int]]:
    rows = session.execute(select(DeliveryTally.outcome, func.sum(DeliveryTally.attempts))
                           .group_by(DeliveryTally.outcome))
    return [(o, int(n)) for o, n in rows]


@dataclass(frozen=True)
class Latency:
    cumulative: list[tuple[float, int]]  # (upper bound in seconds, attempts at or under it)
    count: int
    total_seconds: float


def delivery_latency(session: Session) -> Latency:
    """A histogram of the latency of every attempt that reached the network (from the tally)."""
    rows = session.execute(
        select(DeliveryTally.bucket, func.sum(DeliveryTally.attempts), func.sum(DeliveryTally.latency_ms))
        .where(DeliveryTally.bucket >= 0).group_by(DeliveryTally.bucket)
    )
    per_bucket = {bucket: (int(n), int(total)) for bucket, n, total in rows}
    cumulative, running = [], 0
    for i, bound in enumerate(LATENCY_BUCKETS):
        running += per_bucket.get(i, (0, 0))[0]
        cumulative.append((bound, running))
    count = sum(n for n, _ in per_bucket.values())  # the slowest bucket too (+Inf)
    return Latency(cumulative, count, sum(total for _, total in per_bucket.values()) / 1000)


def oldest_waiting(session: Session, *, now: datetime) -> list[tuple[str, datetime]]:
    """(department, since when its oldest undelivered notification has been due): when it was made,
    or for one planned for its change's date, when that came (one not due yet is not waiting)."""
    since = func.coalesce(Notification.planned_for, Notification.created_at)
    rows = session.execute(
        select(Notification.department_id, func.min(since))
        .where(Notification.state.in_(WAITING), or_(Notification.planned_for.is_(None), Notification.planned_for <= now))
        .group_by(Notification.department_id)
    )
    return [(d, _aware(t)) for d, t in rows if t is not None]


def department_flags(session: Session, *, now: datetime) -> list[tuple[str, bool, bool]]:
    """(department, circuit open, endpoint disabled) for every active department."""
    rows = session.execute(select(Department.id, Department.circuit_open_until, Department.endpoint_disabled_at)
                           .where(Department.active.is_(True)))
    return [(d, until is not None and _aware(until) > now, disabled is not None) for d, until, disabled in rows]


@dataclass(frozen=True)
class DepartmentTrouble:
    department_id: str
    consecutive_failures: int
    circuit_open_until: datetime | None  # set while the breaker holds it back or tries it again
    endpoint_disabled_at: datetime | None


def department_troubles(session: Session) -> list[DepartmentTrouble]:
    """Active departments whose circuit has not closed (open, or past its open period with one
    notification being tried: only a success closes it) or whose endpoint is disabled (410)."""
    rows = session.execute(
        select(Department.id, Department.consecutive_failures, Department.circuit_open_until,
               Department.endpoint_disabled_at)
        .where(Department.active.is_(True),
               Department.circuit_open_until.is_not(None) | Department.endpoint_disabled_at.is_not(None))
        .order_by(Department.id)
    )
    return [DepartmentTrouble(d, failures, _aware(until) if until else None, _aware(off) if off else None)
            for d, failures, until, off in rows]


def dead_letters_since(session: Session, since: datetime) -> dict[str, int]:
    """{department: notifications that died since ``since``}, read from the dead-letter index."""
    rows = session.execute(
        select(Notification.department_id, func.count())
        .where(text(DEAD_SQL), Notification.dead_at >= since)  # the partial index's own condition, written out
        .group_by(Notification.department_id).order_by(Notification.department_id)
    )
    return {d: n for d, n in rows}


def _aware(value: datetime) -> datetime:
    if isinstance(value, str):  # SQLite returns aggregates as text
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)
