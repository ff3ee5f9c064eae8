"""Giving and withdrawing consent: the receipts the domain makes, written through ``data.consent``.

Every grant and withdrawal is an append-only event carrying its consent receipt
(``tellusonce.domain.consent.build_receipt``); withdrawing a grant cancels what
was queued under it and not yet sent.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from tellusonce.application.report_notices import note_withdrawal
from tellusonce.data.audit import record_event
from tellusonce.data.citizens import get_citizen
from tellusonce.data.consent import (
    GrantRow,
    add_event,
    add_grant,
    cancel_queued_under,
    find_grant,
    grant_rows,
    grants_not_withdrawn,
)
from tellusonce.data.departments import get_department
from tellusonce.domain.consent import GrantView, ReceiptParty, build_receipt
from tellusonce.i18n import LANGUAGES, translations_for
from tellusonce.models import ConsentEvent, ConsentEventKind, ConsentGrant, ConsentScope, Department


class ConsentError(ValueError):
    """A consent request that cannot be carried out; the message says why."""


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
    grant_row, event_row = _grant_rows(citizen_id, new, now=now, report_reference=report_reference,
                                       language=_language_of(session, citizen_id))
    event = add_grant(session, grant_row, event_row)
    if audit:
        record_event(session, actor=f"citizen:{citizen_id}", action="consent.granted",
                     subject_type="consent_grant", subject_id=grant_row["id"],
                     details={"department": department.id, "scope": grant_row["scope"],
                              "change_types": grant_row["change_types"]},
                     at=now)
    return event


def new_grant_rows(citizen_id: uuid.UUID, grants: Sequence[NewGrant], *, now: datetime,
                   report_reference: str | None = None,
                   language: str = "en") -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Grants and their "granted" events with the receipts, as column values for ``data.consent.insert_grants``
    (made before anything is written, so a caller can keep its write transaction short). ``language``
    is the citizen's recorded one, that of the receipts' words."""
    return [_grant_rows(citizen_id, new, now=now, report_reference=report_reference, language=language)
            for new in grants]


def withdraw_consent(session: Session, *, citizen_id: uuid.UUID, grant_id: uuid.UUID,
                     now: datetime) -> tuple[ConsentEvent, int]:
    """Withdraw one grant; cancel what was queued under it and not yet sent.

    Returns the withdrawal event and how many notifications were cancelled.
    A grant of another citizen is treated as not found.
    """
    grant = find_grant(session, citizen_id, grant_id)
    if grant is None:
        raise LookupError(grant_id)
    if grant.withdrawn_at is not None:
        raise ConsentError("this consent has already been withdrawn")
    grant.withdrawn_at = now
    department = get_department(session, grant.department_id)
    if department is None:
        raise LookupError(grant.department_id)
    row = _event_row(grant.id, grant.citizen_id, department, ConsentEventKind.WITHDRAWN, uuid.uuid4(), now,
                     change_types=grant.change_types, scope=grant.scope, expires_at=grant.expires_at,
                     report_reference=None, language=_language_of(session, citizen_id))
    event = add_event(session, grant, row)
    cancelled = cancel_queued_under(session, grant.receipt_id, now=now)
    if cancelled:  # what is left of those reports may now all be received
        note_withdrawal(session, grant.receipt_id, now=now)
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


def grant_views(session: Session, citizen_id: uuid.UUID, *, now: datetime | None = None,
                report_id: uuid.UUID | None = None) -> list[GrantView]:
    """The citizen's grants as the consent decision needs them (``data.consent.grant_rows``)."""
    return [_view(row) for row in grant_rows(session, citizen_id, now=now, report_id=report_id)]


def to_view(grant: ConsentGrant) -> GrantView:
    return GrantView(
        id=grant.id, department_id=grant.department_id, scope=grant.scope,
        change_types=frozenset(grant.change_types), granted_at=grant.granted_at, receipt_id=grant.receipt_id,
        report_id=grant.report_id, expires_at=grant.expires_at, withdrawn_at=grant.withdrawn_at,
    )


def active_grants(session: Session, citizen_id: uuid.UUID, *, now: datetime) -> list[ConsentGrant]:
    """Grants in force now, newest first."""
    return [g for g in grants_not_withdrawn(session, citizen_id) if to_view(g).in_force(now)]


def _language_of(session: Session, citizen_id: uuid.UUID) -> str:
    """The citizen's recorded language (English for an id with no account)."""
    citizen = get_citizen(session, citizen_id)
    return citizen.language if citizen is not None else "en"


def _view(row: GrantRow) -> GrantView:
    return GrantView(id=row.id, department_id=row.department_id, scope=row.scope,
                     change_types=frozenset(row.change_types), granted_at=row.granted_at, receipt_id=row.receipt_id,
                     report_id=row.report_id, expires_at=row.expires_at, withdrawn_at=row.withdrawn_at)


def _party(department: Department, language: str) -> ReceiptParty:
    return ReceiptParty(
        id=department.id, name=department.name_in(language), controller=department.controller,
        purpose=department.purpose_in(language), contact_url=department.contact_url, receives=department.receives,
    )


def _grant_rows(citizen_id: uuid.UUID, new: NewGrant, *, now: datetime,
                report_reference: str | None, language: str) -> tuple[dict[str, Any], dict[str, Any]]:
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
    grant_id = uuid.uuid4()
    grant = {
        "id": grant_id, "citizen_id": citizen_id, "department_id": department.id, "scope": new.scope,
        "change_types": change_types, "report_id": new.report_id, "granted_at": now, "expires_at": new.expires_at,
        "withdrawn_at": None, "receipt_id": receipt_id,
    }
    event = _event_row(grant_id, citizen_id, department, ConsentEventKind.GRANTED, receipt_id, now,
                       change_types=change_types, scope=new.scope, expires_at=new.expires_at,
                       report_reference=report_reference, language=language)
    return grant, event


def _event_row(grant_id: uuid.UUID, citizen_id: uuid.UUID, department: Department, kind: str, receipt_id: uuid.UUID,
               now: datetime, *, change_types: Sequence[str], scope: str, expires_at: datetime | None,
               report_reference: str | None, language: str) -> dict[str, Any]:
    """The consent event row with its receipt, whose words for people are in ``language`` (the citizen's)."""
    language = language if language in LANGUAGES else "en"
    receipt = build_receipt(
        receipt_id=receipt_id, event=kind, at=now, citizen_id=citizen_id, recipient=_party(department, language),
        change_types=change_types, scope=scope, expires_at=expires_at, report_reference=report_reference,
        language=language, gettext=translations_for(language).gettext,
    )
    return {"id": uuid.uuid4(), "grant_id": grant_id, "citizen_id": citizen_id, "department_id": department.id,
            "kind": kind, "at": now, "receipt_id": receipt_id, "receipt": receipt}
