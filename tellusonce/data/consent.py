"""Consent as stored: grants, their append-only events and receipts, and withdrawal."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, or_, select, update
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


@dataclass(frozen=True)
class NewGrant:
    """One consent to record: a department, the change types it may receive, and for how long."""

    department: Department
    change_types: Sequence[str]
    scope: str = ConsentScope.STANDING
    report_id: uuid.UUID | None = None  # a one-off grant's report
    expires_at: datetime | None = None


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

    ``audit=False`` leaves the audit trail to the caller. Nothing is flushed: the
    grant and its event are written with the caller's next flush.
    """
    new = NewGrant(department, change_types, scope, report_id, expires_at)
    grant_row, event_row = _grant_rows(citizen_id, new, now=now, report_reference=report_reference)
    grant = ConsentGrant(**grant_row)
    session.add(grant)
    event = ConsentEvent(**event_row, grant=grant)
    session.add(event)
    if audit:
        record_event(session, actor=f"citizen:{citizen_id}", action="consent.granted",
                     subject_type="consent_grant", subject_id=grant.id,
                     details={"department": department.id, "scope": grant.scope, "change_types": grant.change_types},
                     at=now)
    return event


def new_grant_rows(citizen_id: uuid.UUID, grants: Sequence[NewGrant], *, now: datetime,
                   report_reference: str | None = None) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Grants and their "granted" events with the receipts, as column values for ``insert_grants``
    (made before anything is written, so a caller can keep its write transaction short)."""
    return [_grant_rows(citizen_id, new, now=now, report_reference=report_reference) for new in grants]


def insert_grants(session: Session, rows: Sequence[tuple[dict[str, Any], dict[str, Any]]]) -> None:
    """Write grants made by ``new_grant_rows`` as plain rows: two statements however many. The audit
    trail is the caller's (intake records the consents given with a report in the report's own event)."""
    if rows:
        connection = session.connection()
        connection.execute(_INSERT_GRANT, [grant for grant, _ in rows])
        connection.execute(_INSERT_EVENT, [event for _, event in rows])


# Every submission with a consent given runs them (each an executemany).
_INSERT_GRANT = insert(ConsentGrant.__table__)
_INSERT_EVENT = insert(ConsentEvent.__table__)


def _grant_rows(citizen_id: uuid.UUID, new: NewGrant, *, now: datetime,
                report_reference: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The grant and its "granted" event with the receipt, as column values; refuses what cannot be granted."""
    department = new.department
    change_types = sorted(set(new.change_types))
    unknown = [t for t in change_types if t not in department.receives]
    if not change_types or unknown:
        raise ConsentError(f"{department.name} does not deal with: {', '.join(unknown) or 'nothing given'}")
    if new.scope == ConsentScope.ONE_OFF and new.report_id is None:
        raise ConsentError("one-off consent needs the report it is for")
    if new.expires_at is not None and new.expires_at <= now:
        raise ConsentError("consent must end after it starts")
    receipt_id = uuid.uuid4()
    grant = {
        "id": uuid.uuid4(), "citizen_id": citizen_id, "department_id": department.id, "scope": new.scope,
        "change_types": change_types, "report_id": new.report_id, "granted_at": now, "expires_at": new.expires_at,
        "withdrawn_at": None, "receipt_id": receipt_id,
    }
    event = _event_row(grant["id"], citizen_id, department, ConsentEventKind.GRANTED, receipt_id, now,
                       change_types=change_types, scope=new.scope, expires_at=new.expires_at,
                       report_reference=report_reference)
    return grant, event


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
    row = _event_row(grant.id, grant.citizen_id, department, kind, receipt_id, now, change_types=grant.change_types,
                     scope=grant.scope, expires_at=grant.expires_at, report_reference=report_reference)
    event = ConsentEvent(**row, grant=grant)
    session.add(event)
    return event


def _event_row(grant_id: uuid.UUID, citizen_id: uuid.UUID, department: Department, kind: str, receipt_id: uuid.UUID,
               now: datetime, *, change_types: Sequence[str], scope: str, expires_at: datetime | None,
               report_reference: str | None) -> dict[str, Any]:
    receipt = build_receipt(
        receipt_id=receipt_id, event=kind, at=now, citizen_id=citizen_id, recipient=_party(department),
        change_types=change_types, scope=scope, expires_at=expires_at, report_reference=report_reference,
    )
    return {"id": uuid.uuid4(), "grant_id": grant_id, "citizen_id": citizen_id, "department_id": department.id,
            "kind": kind, "at": now, "receipt_id": receipt_id, "receipt": receipt}


_GRANTS = ConsentGrant.__table__
_VIEW_COLUMNS = (_GRANTS.c.id, _GRANTS.c.department_id, _GRANTS.c.scope, _GRANTS.c.change_types, _GRANTS.c.granted_at,
                 _GRANTS.c.receipt_id, _GRANTS.c.report_id, _GRANTS.c.expires_at, _GRANTS.c.withdrawn_at)
_ALL_GRANTS_QUERY = select(*_VIEW_COLUMNS).where(_GRANTS.c.citizen_id == bindparam("citizen"))
_ALL_GRANTS = _ALL_GRANTS_QUERY
# A one-off grant counts only for its own report; with no report given, ``report_id = NULL`` is never true.
_GRANTS_AT = _ALL_GRANTS_QUERY.where(
    _GRANTS.c.granted_at <= bindparam("now"),
    or_(_GRANTS.c.withdrawn_at.is_(None), _GRANTS.c.withdrawn_at > bindparam("now")),
    or_(_GRANTS.c.expires_at.is_(None), _GRANTS.c.expires_at > bindparam("now")),
    or_(_GRANTS.c.scope == ConsentScope.STANDING, _GRANTS.c.report_id == bindparam("report", type_=_GRANTS.c.report_id.type)),
)


def grant_views(session: Session, citizen_id: uuid.UUID, *, now: datetime | None = None,
                report_id: uuid.UUID | None = None) -> list[GrantView]:
    """The citizen's grants as the consent decision needs them, read as plain rows.

    With ``now``, only grants that can be in force then (and one-off grants only
    for ``report_id``) are read: a citizen's history grows with every report, and
    the decision need not see it all.
    """
    session.flush()  # grants still pending in the session count too (a plain read does not autoflush)
    if now is None:
        rows = session.connection().execute(_ALL_GRANTS, {"citizen": citizen_id}).all()
    else:
        rows = session.connection().execute(_GRANTS_AT, {"citizen": citizen_id, "now": now, "report": report_id}).all()
    return [
        GrantView(id=id_, department_id=department_id, scope=scope, change_types=frozenset(change_types),
                  granted_at=granted_at, receipt_id=receipt_id, report_id=report, expires_at=expires_at,
                  withdrawn_at=withdrawn_at)
        for id_, department_id, scope, change_types, granted_at, receipt_id, report, expires_at, withdrawn_at in rows
    ]


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
