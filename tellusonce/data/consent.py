"""Consent as stored: grants, their append-only events and receipts, and withdrawal."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.orm import Session

from tellusonce.data.audit import record_event
from tellusonce.domain.consent import GrantView, ReceiptParty, build_receipt
from tellusonce.models import (
    ConsentEvent,
    ConsentEventKind,
    ConsentGrant,
    ConsentScope,
    Department,
    Notification,
    NotificationState,
)


class ConsentError(ValueError):
    """A consent request that cannot be carried out; the message says why."""


def _party(department: Department) -> ReceiptParty:
    return ReceiptParty(
        id=department.id, name=department.name, controller=department.controller,
        purpose=department.purpose, contact_url=department.contact_url, receives=department.receives,
    )


def grant_consent(
    session: Session,
    *,
    citizen_id: uuid.UUID,
    department: Department,
    change_types: Sequence[str],
    now: datetime,
    scope: str = ConsentScope.STANDING,
    report_id: uuid.UUID | None = None,
    report_reference: str | None = None,
    expires_at: datetime | None = None,
    audit: bool = True,
) -> ConsentEvent:
    """Record a grant and its receipt. One-off grants belong to one report.

    ``audit=False`` leaves the audit trail to the caller (intake records the
    consents given with a report in the report's own audit event). Nothing is
    flushed: the grant and its event are written with the caller's next flush.
    """
    change_types = sorted(set(change_types))
    unknown = [t for t in change_types if t not in department.receives]
    if not change_types or unknown:
        raise ConsentError(f"{department.name} does not deal with: {', '.join(unknown) or 'nothing given'}")
    if scope == ConsentScope.ONE_OFF and report_id is None:
        raise ConsentError("one-off consent needs the report it is for")
    if expires_at is not None and expires_at <= now:
        raise ConsentError("consent must end after it starts")
    receipt_id = uuid.uuid4()
    grant = ConsentGrant(
        id=uuid.uuid4(), citizen_id=citizen_id, department_id=department.id, scope=scope,
        change_types=change_types, report_id=report_id, granted_at=now, expires_at=expires_at,
        receipt_id=receipt_id,
    )
    session.add(grant)
    event = _event(session, grant, department, ConsentEventKind.GRANTED, receipt_id, now, report_reference)
    if audit:
        record_event(session, actor=f"citizen:{citizen_id}", action="consent.granted",
                     subject_type="consent_grant", subject_id=grant.id,
                     details={"department": department.id, "scope": scope, "change_types": change_types}, at=now)
    return event


def withdraw_consent(session: Session, *, citizen_id: uuid.UUID, grant_id: uuid.UUID, now: datetime) -> tuple[ConsentEvent, int]:
    """Withdraw one grant; cancel what was queued under it and not yet sent.

    Returns the withdrawal event and how many notifications were cancelled.
    A grant of another citizen is treated as not found.
    """
    grant = session.scalar(
        select(ConsentGrant).where(ConsentGrant.id == grant_id, ConsentGrant.citizen_id == citizen_id)
    )
    if grant is None:
        raise LookupError(grant_id)
    if grant.withdrawn_at is not None:
        raise ConsentError("this consent has already been withdrawn")
    grant.withdrawn_at = now
    department = session.get_one(Department, grant.department_id)
    event = _event(session, grant, department, ConsentEventKind.WITHDRAWN, uuid.uuid4(), now, None)
    cancelled = session.execute(
        update(Notification)
        .where(
            Notification.consent_receipt_id == grant.receipt_id,
            Notification.state.in_([NotificationState.PENDING, NotificationState.RETRYING]),
        )
        .values(state=NotificationState.CANCELLED, cancelled_at=now, next_attempt_at=None,
                last_error="consent withdrawn before delivery")
        .execution_options(synchronize_session=False)
    ).rowcount
    record_event(session, actor=f"citizen:{citizen_id}", action="consent.withdrawn", subject_type="consent_grant",
                 subject_id=grant.id, details={"department": grant.department_id, "cancelled": cancelled}, at=now)
    return event, cancelled


def withdraw_all_for_department(session: Session, *, citizen_id: uuid.UUID, department_id: str, now: datetime) -> int:
    """Withdraw every grant in force for one department; returns notifications cancelled."""
    total = 0
    for grant in active_grants(session, citizen_id, now=now):
        if grant.department_id == department_id:
            total += withdraw_consent(session, citizen_id=citizen_id, grant_id=grant.id, now=now)[1]
    return total


def _event(session: Session, grant: ConsentGrant, department: Department, kind: str, receipt_id: uuid.UUID,
           now: datetime, report_reference: str | None) -> ConsentEvent:
    receipt = build_receipt(
        receipt_id=receipt_id, event=kind, at=now, citizen_id=grant.citizen_id, recipient=_party(department),
        change_types=grant.change_types, scope=grant.scope, expires_at=grant.expires_at,
        report_reference=report_reference,
    )
    event = ConsentEvent(
        id=uuid.uuid4(), grant=grant, citizen_id=grant.citizen_id, department_id=department.id,
        kind=kind, at=now, receipt_id=receipt_id, receipt=receipt,
    )
    session.add(event)
    return event


def grant_views(session: Session, citizen_id: uuid.UUID, *, now: datetime | None = None,
                report_id: uuid.UUID | None = None) -> list[GrantView]:
    """The citizen's grants as the consent decision needs them.

    With ``now``, only grants that can be in force then (and one-off grants only
    for ``report_id``) are read: a citizen's history grows with every report, and
    the decision need not see it all.
    """
    query = select(ConsentGrant).where(ConsentGrant.citizen_id == citizen_id)
    if now is not None:
        query = query.where(
            ConsentGrant.granted_at <= now,
            or_(ConsentGrant.withdrawn_at.is_(None), ConsentGrant.withdrawn_at > now),
            or_(ConsentGrant.expires_at.is_(None), ConsentGrant.expires_at > now),
            or_(ConsentGrant.scope == ConsentScope.STANDING, ConsentGrant.report_id == report_id)
            if report_id is not None
            else ConsentGrant.scope == ConsentScope.STANDING,
        )
    return [to_view(g) for g in session.scalars(query)]


def to_view(grant: ConsentGrant) -> GrantView:
    return GrantView(
        id=grant.id, department_id=grant.department_id, scope=grant.scope,
        change_types=frozenset(grant.change_types), granted_at=grant.granted_at, receipt_id=grant.receipt_id,
        report_id=grant.report_id, expires_at=grant.expires_at, withdrawn_at=grant.withdrawn_at,
    )


def active_grants(session: Session, citizen_id: uuid.UUID, *, now: datetime) -> list[ConsentGrant]:
    """Grants in force now, newest first."""
    grants = session.scalars(
        select(ConsentGrant)
        .where(ConsentGrant.citizen_id == citizen_id, ConsentGrant.withdrawn_at.is_(None))
        .order_by(ConsentGrant.granted_at.desc())
    ).all()
    return [g for g in grants if to_view(g).in_force(now)]


def consent_history(session: Session, citizen_id: uuid.UUID) -> Sequence[ConsentEvent]:
    return session.scalars(
        select(ConsentEvent).where(ConsentEvent.citizen_id == citizen_id).order_by(ConsentEvent.at.desc())
    ).all()


def get_receipt(session: Session, *, citizen_id: uuid.UUID, receipt_id: uuid.UUID) -> ConsentEvent | None:
    """The event carrying this receipt, only if it is this citizen's."""
    return session.scalar(
        select(ConsentEvent).where(ConsentEvent.receipt_id == receipt_id, ConsentEvent.citizen_id == citizen_id)
    )


def receipts_in_force(session: Session, receipt_ids: Iterable[uuid.UUID], *, now: datetime) -> set[uuid.UUID]:
    """Of these consent receipts, those whose grant is not withdrawn (by ``now``): checked again at
    dispatch, so a notification goes out only while the grant it was queued under stands.

    Expiry is judged when the report is submitted: a change reported while consent
    was in force may still be delivered after a standing consent's end date.
    """
    ids = list(set(receipt_ids))
    if not ids:
        return set()
    rows = session.execute(
        select(ConsentGrant.receipt_id).where(
            ConsentGrant.receipt_id.in_(bindparam("receipts", expanding=True)),
            or_(ConsentGrant.withdrawn_at.is_(None), ConsentGrant.withdrawn_at > now),
        ),
        {"receipts": ids},
    )
    return {receipt_id for (receipt_id,) in rows}


def consent_still_allows(session: Session, notification: Notification, *, now: datetime) -> bool:
    """``receipts_in_force`` for one notification."""
    return notification.consent_receipt_id in receipts_in_force(session, [notification.consent_receipt_id], now=now)
