"""Everything held about one citizen, read for their download (UK GDPR Art. 15, the right of access).

Each kind is one query filtered by the citizen (their id, their reports' ids, or the address they
use), so an account with a thousand reports is read in a handful of statements, and nothing of
another citizen's is ever in it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from tellusonce.models import (
    AuditEvent,
    ChangeReport,
    Citizen,
    ConsentEvent,
    ConsentGrant,
    DeliveryAttempt,
    Department,
    InboundMessage,
    Notification,
    OutgoingEmail,
    PersonDetails,
)


@dataclass(frozen=True)
class Held:
    """The rows held about one citizen, oldest first within each kind."""

    citizen: Citizen
    people: Sequence[PersonDetails]
    reports: Sequence[ChangeReport]
    notifications: Sequence[Notification]
    attempts: Sequence[DeliveryAttempt]
    departments: dict[str, Department]
    grants: Sequence[ConsentGrant]
    consent_events: Sequence[ConsentEvent]
    emails_sent: Sequence[OutgoingEmail]
    emails_received: Sequence[InboundMessage]
    account_events: Sequence[AuditEvent]


def held_about(session: Session, citizen: Citizen) -> Held:
    """Every row that is about ``citizen``: their account, what they reported and who was told,
    their consents, the email sent to them and the email they sent, and the audit events of what
    they did and what was done to their account (sign-ins among them)."""
    cid = citizen.id
    reports = session.scalars(select(ChangeReport).where(ChangeReport.citizen_id == cid)
                              .order_by(ChangeReport.created_at, ChangeReport.id)).all()
    report_ids = [r.id for r in reports]
    notifications = session.scalars(select(Notification).where(Notification.citizen_id == cid)
                                    .order_by(Notification.created_at, Notification.id)).all()
    attempts = session.scalars(
        select(DeliveryAttempt).join(Notification, DeliveryAttempt.notification_id == Notification.id)
        .where(Notification.citizen_id == cid).order_by(DeliveryAttempt.started_at, DeliveryAttempt.id)).all()
    # Email about them: to the address they have now, or about their account or one of their reports.
    related: list[uuid.UUID] = [cid, *report_ids]
    emails_sent = session.scalars(
        select(OutgoingEmail).where(or_(func.lower(OutgoingEmail.to_address) == citizen.email.lower(),
                                        OutgoingEmail.related_id.in_(related)))
        .order_by(OutgoingEmail.created_at, OutgoingEmail.id)).all()
    emails_received = session.scalars(
        select(InboundMessage).where(or_(func.lower(InboundMessage.from_address) == citizen.email.lower(),
                                         InboundMessage.report_id.in_(report_ids)))
        .order_by(InboundMessage.received_at, InboundMessage.id)).all()
    return Held(
        citizen=citizen,
        people=session.scalars(select(PersonDetails).where(PersonDetails.reported_by_id == cid)
                               .order_by(PersonDetails.created_at, PersonDetails.id)).all(),
        reports=reports,
        notifications=notifications,
        attempts=attempts,
        departments={d.id: d for d in session.scalars(select(Department))},
        grants=session.scalars(select(ConsentGrant).where(ConsentGrant.citizen_id == cid)
                               .order_by(ConsentGrant.granted_at, ConsentGrant.id)).all(),
        consent_events=session.scalars(select(ConsentEvent).where(ConsentEvent.citizen_id == cid)
                                       .order_by(ConsentEvent.at, ConsentEvent.id)).all(),
        emails_sent=emails_sent,
        emails_received=emails_received,
        account_events=session.scalars(
            select(AuditEvent).where(or_(AuditEvent.actor == f"citizen:{cid}",
                                         (AuditEvent.subject_type == "citizen") & (AuditEvent.subject_id == str(cid))))
            .order_by(AuditEvent.id)).all(),
    )
