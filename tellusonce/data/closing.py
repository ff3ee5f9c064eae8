"""Closing an account: what it was told to whom, and the account made unusable at once.

``close_citizen`` is the part of closing that must happen in the closing transaction itself: the
account is marked closed, every session cookie of it stops working, its password goes and its
address is freed (replaced by a value no address can equal, so the address can make a new
account at once), and what it had in progress (reports being filled in, emailed links) is
deleted. Everything else it held is blanked later, by the retention run
(``tellusonce.data.closed_accounts``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from tellusonce.data.outbox import CANCELLABLE
from tellusonce.models import (
    ChangeReport,
    Citizen,
    ConsentGrant,
    ConsentScope,
    EmailToken,
    Notification,
    NotificationKind,
    NotificationState,
    PersonDetails,
    ReportJourney,
)

CLOSED_ADDRESS = "closed:"  # a closed account's email column: this and its id, never an address
# What an organisation has, or is being sent: it "received something" (it is told of the closing).
RECEIVED = (NotificationState.DELIVERED, NotificationState.ACKNOWLEDGED, NotificationState.DELIVERING)


@dataclass(frozen=True)
class Told:
    """One organisation that received something about the account."""

    department_id: str
    report_references: list[str]
    last_report_id: uuid.UUID  # the report of its latest notification: a closure event goes on it
    change_type: str  # that report's change type
    consent_receipt_id: uuid.UUID  # that notification's receipt


@dataclass(frozen=True)
class Held:
    """How much the account holds, for the page that warns what closing deletes."""

    reports: int
    people: int
    standing_consents: int
    queued: int


def told_organisations(session: Session, citizen_id: uuid.UUID) -> list[Told]:
    """Each organisation sent (or being sent) anything about the account, by id."""
    rows = session.execute(
        select(Notification.department_id, Notification.report_id, Notification.consent_receipt_id,
               Notification.change_type, ChangeReport.reference)
        .join(ChangeReport, ChangeReport.id == Notification.report_id)
        .where(Notification.citizen_id == citizen_id, Notification.state.in_(RECEIVED),
               Notification.kind != NotificationKind.ACCOUNT_CLOSED)
        .order_by(Notification.department_id, Notification.created_at, Notification.id)).all()
    told: dict[str, Told] = {}
    for row in rows:
        earlier = told.get(row.department_id)
        references = earlier.report_references if earlier else []
        if row.reference not in references:
            references.append(row.reference)
        told[row.department_id] = Told(row.department_id, references, row.report_id, row.change_type,
                                       row.consent_receipt_id)
    return list(told.values())


def held_counts(session: Session, citizen_id: uuid.UUID) -> Held:
    def count(query: object) -> int:
        return int(session.scalar(query) or 0)  # type: ignore[call-overload]  # a select of one count

    return Held(
        reports=count(select(func.count()).select_from(ChangeReport).where(ChangeReport.citizen_id == citizen_id)),
        people=count(select(func.count()).select_from(PersonDetails)
                     .where(PersonDetails.reported_by_id == citizen_id)),
        standing_consents=count(select(func.count()).select_from(ConsentGrant).where(
            ConsentGrant.citizen_id == citizen_id, ConsentGrant.scope == ConsentScope.STANDING,
            ConsentGrant.withdrawn_at.is_(None))),
        queued=count(select(func.count()).select_from(Notification).where(
            Notification.citizen_id == citizen_id, Notification.state.in_(CANCELLABLE))),
    )


def standing_grant_ids(session: Session, citizen_id: uuid.UUID) -> Sequence[uuid.UUID]:
    """The standing consents not withdrawn (whatever their end date: each gets its withdrawal receipt)."""
    return session.scalars(select(ConsentGrant.id).where(
        ConsentGrant.citizen_id == citizen_id, ConsentGrant.scope == ConsentScope.STANDING,
        ConsentGrant.withdrawn_at.is_(None)).order_by(ConsentGrant.granted_at, ConsentGrant.id)).all()


def close_citizen(session: Session, citizen: Citizen, *, now: datetime) -> None:
    """Mark the account closed and unusable: no session, no password, its address free; and
    delete what it had in progress (reports being filled in, emailed links)."""
    citizen.closed_at = now
    citizen.email = f"{CLOSED_ADDRESS}{citizen.id}"
    citizen.password_hash = None
    citizen.session_version = (citizen.session_version or 0) + 1
    session.flush()
    session.execute(delete(ReportJourney).where(ReportJourney.citizen_id == citizen.id)
                    .execution_options(synchronize_session=False))
    session.execute(delete(EmailToken).where(EmailToken.citizen_id == citizen.id)
                    .execution_options(synchronize_session=False))
