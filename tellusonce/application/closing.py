"""Closing an account: the use case the "Close your account" page calls.

``plan_closing`` reads what the warning page shows: how much the account holds, and which
organisations were sent anything about it (those that can be told it closed). ``close_account``
then does, in the caller's one short transaction, everything that must happen at once:

- the account is closed (``closed_at``): it cannot be signed in to, every session of it ends, and
  its address is free, so creating an account with it later starts afresh;
- every notification still queued is cancelled, and every standing consent withdrawn, each with
  its withdrawal receipt (as withdrawing it on the consents page does);
- if the citizen asked, one ``tellusonce.account.closed.v1`` event is queued for each organisation
  that received anything (UK GDPR Art. 19), naming only the account's pseudonymous id for that
  organisation and the references of the reports it was sent, behind every earlier event to it;
- an audit event records it (counts and ids only).

The caller queues the confirmation email in the same transaction (the web does). What the
account held is then blanked by the retention run (kind ``closed_accounts``), in batches, and the
audit chain, which holds hashes and no personal data, stays whole and verifies.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from tellusonce.application.consent import withdraw_consent
from tellusonce.data.audit import record_event
from tellusonce.data.closing import Held, Told, close_citizen, held_counts, standing_grant_ids, told_organisations
from tellusonce.data.departments import registry
from tellusonce.data.outbox import cancel_queued, chain_tails, insert_notifications
from tellusonce.domain.events import account_closed_data
from tellusonce.models import Citizen, Department, Notification, NotificationKind, NotificationState

NOT_SENT_REASON = "the account was closed before delivery"


class AlreadyClosed(ValueError):
    """The account is closed already."""


@dataclass(frozen=True)
class ClosingPlan:
    held: Held
    organisations: list[tuple[Department, Told]]  # those sent anything, by name


@dataclass(frozen=True)
class Closed:
    cancelled: int  # notifications queued and cancelled
    withdrawn: list[uuid.UUID]  # the withdrawal receipts
    told: list[str]  # the organisations a closure event is queued for


def plan_closing(session: Session, citizen: Citizen) -> ClosingPlan:
    departments = {d.id: d for d in registry(session)}
    told = [(departments[t.department_id], t) for t in told_organisations(session, citizen.id)
            if t.department_id in departments]
    return ClosingPlan(held_counts(session, citizen.id), sorted(told, key=lambda pair: pair[0].name))


def close_account(session: Session, citizen: Citizen, *, tell_organisations: bool, now: datetime) -> Closed:
    """Close ``citizen``'s account in the caller's transaction (see the module's docstring)."""
    if citizen.is_closed:
        raise AlreadyClosed(str(citizen.id))
    # Read before anything changes: who was sent something, under which receipt.
    told = told_organisations(session, citizen.id) if tell_organisations else []
    close_citizen(session, citizen, now=now)
    withdrawn: list[uuid.UUID] = []
    cancelled = 0
    for grant_id in standing_grant_ids(session, citizen.id):
        event, count = withdraw_consent(session, citizen_id=citizen.id, grant_id=grant_id, now=now)
        withdrawn.append(event.receipt_id)
        cancelled += count
    # What is left queued (under one-off consents, or follow-ups): never sent now.
    cancelled += len(cancel_queued(session, Notification.citizen_id == citizen.id, now=now, reason=NOT_SENT_REASON))
    rows = [_event_row(citizen, t, chain_tails(session, t.last_report_id), now) for t in told]
    insert_notifications(session, rows)
    record_event(session, actor=f"citizen:{citizen.id}", action="account.closed", subject_type="citizen",
                 subject_id=citizen.id, at=now, details={
                     "cancelled": cancelled, "consents_withdrawn": len(withdrawn),
                     "told": sorted(row["department_id"] for row in rows),
                     "events": {row["department_id"]: str(row["id"]) for row in rows},
                 })
    return Closed(cancelled, withdrawn, sorted(row["department_id"] for row in rows))


def _event_row(citizen: Citizen, told: Told, tails: dict[str, uuid.UUID], now: datetime) -> dict[str, Any]:
    """The closure event for one organisation, on its latest report, behind its last event there."""
    return {
        "id": uuid.uuid4(), "report_id": told.last_report_id, "citizen_id": citizen.id,
        "department_id": told.department_id, "change_type": told.change_type,
        "kind": NotificationKind.ACCOUNT_CLOSED, "original_id": None,
        "after_id": tails.get(told.department_id), "state": NotificationState.PENDING,
        "payload": account_closed_data(citizen_id=citizen.id, department_id=told.department_id,
                                       report_references=told.report_references),
        "consent_receipt_id": told.consent_receipt_id, "attempt_count": 0, "next_attempt_at": now,
        "created_at": now, "updated_at": now,
    }

