"""The outbox: how dispatchers claim notifications and record what happened.

Claims are leases. A worker claims due rows (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so many workers on many machines share the work; on SQLite the one
writer lock does the same), and every later change to a claimed row is
conditional on the claim still being that worker's: a result that arrives after
the lease passed to another worker changes nothing and says so.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import and_, case, func, or_, select, update
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

PUSH_CHANNELS = (ChannelKind.WEBHOOK, ChannelKind.EMAIL)


def _due(now: datetime):  # type: ignore[no-untyped-def]
    return or_(
        and_(
            Notification.state.in_([NotificationState.PENDING, NotificationState.RETRYING]),
            Notification.next_attempt_at <= now,
        ),
        and_(Notification.state == NotificationState.DELIVERING, Notification.lease_expires_at <= now),
    )


def _open_departments(now: datetime, channels: Sequence[str]):  # type: ignore[no-untyped-def]
    return select(Department.id).where(
        Department.active.is_(True),
        Department.channel.in_(list(channels)),
        Department.endpoint_disabled_at.is_(None),
        or_(Department.circuit_open_until.is_(None), Department.circuit_open_until <= now),
    )


def claim_due(
    session: Session,
    *,
    worker: str,
    limit: int,
    lease: timedelta,
    now: datetime,
    department_ids: Sequence[str] | None = None,
    per_department: int | None = None,
    channels: Sequence[str] = PUSH_CHANNELS,
) -> list[Notification]:
    """Claim up to ``limit`` due notifications for ``worker`` until ``now + lease``.

    Departments that are inactive, disabled (410) or whose circuit is open are
    skipped. ``per_department`` caps how many one department may take of a batch,
    so a department with a large backlog cannot crowd the others out.
    """
    conditions = [_due(now), Notification.department_id.in_(_open_departments(now, channels))]
    if department_ids is not None:
        conditions.append(Notification.department_id.in_(list(department_ids)))
    if per_department:
        ranked = (
            select(
                Notification.id,
                Notification.next_attempt_at,
                func.row_number()
                .over(partition_by=Notification.department_id, order_by=Notification.next_attempt_at)
                .label("rank"),
            )
            .where(*conditions)
            .subquery()
        )
        candidates = select(ranked.c.id).where(ranked.c.rank <= per_department).order_by(ranked.c.next_attempt_at)
        conditions.append(Notification.id.in_(candidates.limit(limit * 4).scalar_subquery()))
    query = select(Notification.id).where(*conditions).order_by(Notification.next_attempt_at).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=Notification)
    ids = list(session.scalars(query))
    if not ids:
        return []
    session.execute(
        update(Notification)
        .where(Notification.id.in_(ids))
        .values(state=NotificationState.DELIVERING, claimed_by=worker, lease_expires_at=now + lease)
        .execution_options(synchronize_session=False)
    )
    session.expire_all()
    return list(
        session.scalars(select(Notification).where(Notification.id.in_(ids)).order_by(Notification.next_attempt_at))
    )


def record_attempt(
    session: Session,
    notification: Notification,
    *,
    worker: str,
    outcome: str,
    started_at: datetime,
    finished_at: datetime,
    now: datetime,
    status_code: int | None = None,
    latency_ms: int | None = None,
    error: str | None = None,
    next_attempt_at: datetime | None = None,
) -> bool:
    """Record one delivery attempt and move the notification on.

    Returns False, changing nothing but the attempt log, when this worker no
    longer holds the claim (its lease passed to another worker).
    """
    number = notification.attempt_count + 1
    values: dict[str, object] = {"claimed_by": None, "lease_expires_at": None, "attempt_count": Notification.attempt_count + 1}
    if outcome == AttemptOutcome.DELIVERED:
        values.update(state=NotificationState.DELIVERED, delivered_at=finished_at, next_attempt_at=None, last_error=None)
    elif outcome == AttemptOutcome.RETRY and next_attempt_at is not None:
        values.update(state=NotificationState.RETRYING, next_attempt_at=next_attempt_at, last_error=error)
    elif outcome == AttemptOutcome.CANCELLED:
        values.update(state=NotificationState.CANCELLED, cancelled_at=now, next_attempt_at=None, last_error=error)
    else:  # permanent, gone, or a retry with no attempts left
        values.update(state=NotificationState.DEAD, dead_at=now, next_attempt_at=None, last_error=error)
    changed = session.execute(
        update(Notification)
        .where(
            Notification.id == notification.id,
            Notification.claimed_by == worker,
            Notification.state == NotificationState.DELIVERING,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    held = changed == 1
    session.add(
        DeliveryAttempt(
            notification_id=notification.id, number=number, worker=worker, started_at=started_at,
            finished_at=finished_at, outcome=outcome if held else AttemptOutcome.LEASE_LOST,
            status_code=status_code, latency_ms=latency_ms,
            error=error if held else f"result '{outcome}' arrived after the claim was lost; ignored",
        )
    )
    if held and values["state"] == NotificationState.DEAD:
        record_event(session, actor=f"worker:{worker}", action="notification.dead", subject_type="notification",
                     subject_id=notification.id, details={"department": notification.department_id,
                                                          "outcome": outcome, "status_code": status_code}, at=now)
    session.flush()
    session.expire(notification)
    return held


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
