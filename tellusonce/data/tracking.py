"""What a citizen can read about their own reports: the reports, each notification, every disclosure.

Every function takes the citizen's id and filters by it, so an id belonging to
somebody else finds nothing (the page then answers 404).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, joinedload

from tellusonce.models import (
    ChangeReport,
    ConsentEvent,
    DeliveryAttempt,
    Notification,
    NotificationKind,
    NotificationState,
    ReportState,
)

DISCLOSED = (NotificationState.DELIVERED, NotificationState.ACKNOWLEDGED)
SHOWN_REPORT_STATES = (ReportState.SUBMITTED, ReportState.PENDING_CONFIRMATION, ReportState.CANCELLED)
# A cancellation event discloses nothing (identifiers only): "who has been told what" lists the changes.
_DISCLOSING = Notification.kind != NotificationKind.CANCELLATION
T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    number: int
    size: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))


@dataclass(frozen=True)
class ReportRow:
    report: ChangeReport
    states: dict[str, int] = field(default_factory=dict)  # notification state -> how many

    @property
    def organisations(self) -> int:
        return sum(self.states.values())


def _page_number(number: int, total: int, size: int) -> int:
    return min(max(1, number), max(1, -(-total // size)))


def list_reports(session: Session, citizen_id: uuid.UUID, *, page: int = 1, size: int = 25) -> Page[ReportRow]:
    """The citizen's reports, newest first, one page at a time, with their notifications counted by state."""
    where = (ChangeReport.citizen_id == citizen_id, ChangeReport.state.in_(SHOWN_REPORT_STATES))
    total = session.scalar(select(func.count()).select_from(ChangeReport).where(*where)) or 0
    number = _page_number(page, total, size)
    reports = session.scalars(
        select(ChangeReport).where(*where)
        .order_by(ChangeReport.created_at.desc(), ChangeReport.id.desc())
        .offset((number - 1) * size).limit(size)
    ).all()
    counts: dict[uuid.UUID, dict[str, int]] = {r.id: {} for r in reports}
    if reports:
        rows = session.execute(
            select(Notification.report_id, Notification.id, Notification.state, Notification.after_id)
            .where(Notification.citizen_id == citizen_id, Notification.report_id.in_(list(counts)),
                   Notification.kind == NotificationKind.CHANGE)  # one per organisation told
        ).all()
        # A corrected copy that replaced a queued one waits for it (after_id): the replaced one is not counted.
        replaced = {row.after_id for row in rows if row.after_id is not None}
        for row in rows:
            if row.id not in replaced:
                counts[row.report_id][row.state] = counts[row.report_id].get(row.state, 0) + 1
    return Page([ReportRow(r, counts[r.id]) for r in reports], number, size, total)


def get_report(session: Session, citizen_id: uuid.UUID, *, reference: str | None = None,
               report_id: uuid.UUID | None = None) -> ChangeReport | None:
    """One of the citizen's reports, by its reference or id; None if it is not theirs."""
    query = select(ChangeReport).where(ChangeReport.citizen_id == citizen_id)
    if reference is not None:
        query = query.where(ChangeReport.reference == reference.strip().upper())
    elif report_id is not None:
        query = query.where(ChangeReport.id == report_id)
    else:
        return None
    return session.scalar(query)


def report_notifications(session: Session, citizen_id: uuid.UUID, report_id: uuid.UUID) -> Sequence[Notification]:
    """A report's notifications, one per organisation told, with their department."""
    return session.scalars(
        select(Notification).options(joinedload(Notification.department))
        .where(Notification.citizen_id == citizen_id, Notification.report_id == report_id)
        .order_by(Notification.created_at, Notification.department_id)
    ).all()


def last_attempts(session: Session, notification_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, DeliveryAttempt]:
    """The latest delivery attempt of each notification that has one."""
    if not notification_ids:
        return {}
    latest = (
        select(DeliveryAttempt.notification_id, func.max(DeliveryAttempt.number).label("number"))
        .where(DeliveryAttempt.notification_id.in_(list(notification_ids)))
        .group_by(DeliveryAttempt.notification_id)
        .subquery()
    )
    attempts = session.scalars(
        select(DeliveryAttempt).join(
            latest, (DeliveryAttempt.notification_id == latest.c.notification_id)
            & (DeliveryAttempt.number == latest.c.number)
        )
    )
    return {a.notification_id: a for a in attempts}


def _disclosures_query(citizen_id: uuid.UUID) -> Select[Notification]:
    return (
        select(Notification)
        .options(joinedload(Notification.department), joinedload(Notification.report))
        .where(Notification.citizen_id == citizen_id, Notification.state.in_(DISCLOSED), _DISCLOSING)
        .order_by(Notification.delivered_at.desc(), Notification.id)
    )


def list_disclosures(session: Session, citizen_id: uuid.UUID, *, page: int = 1, size: int = 50) -> Page[Notification]:
    """Every notification that reached an organisation, newest first."""
    total = session.scalar(
        select(func.count()).select_from(Notification)
        .where(Notification.citizen_id == citizen_id, Notification.state.in_(DISCLOSED), _DISCLOSING)
    ) or 0
    number = _page_number(page, total, size)
    items = session.scalars(_disclosures_query(citizen_id).offset((number - 1) * size).limit(size)).all()
    return Page(items, number, size, total)


def all_disclosures(session: Session, citizen_id: uuid.UUID, *, batch: int = 500) -> Iterator[Notification]:
    """Every disclosure, read in batches so that a long history streams."""
    offset = 0
    while True:
        chunk = session.scalars(_disclosures_query(citizen_id).offset(offset).limit(batch)).all()
        yield from chunk
        if len(chunk) < batch:
            return
        offset += batch


def consent_history_page(session: Session, citizen_id: uuid.UUID, *, page: int = 1, size: int = 50) -> Page[ConsentEvent]:
    """The citizen's consent events, newest first, one page at a time."""
    total = session.scalar(
        select(func.count()).select_from(ConsentEvent).where(ConsentEvent.citizen_id == citizen_id)
    ) or 0
    number = _page_number(page, total, size)
    items = session.scalars(
        select(ConsentEvent).where(ConsentEvent.citizen_id == citizen_id)
        .order_by(ConsentEvent.at.desc(), ConsentEvent.id).offset((number - 1) * size).limit(size)
    ).all()
    return Page(items, number, size, total)
