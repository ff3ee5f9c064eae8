"""Cancelling a sent report: the use case the report page calls.

Planned, then written, as a submission is (``tellusonce.application.intake``).
``plan_cancellation`` reads the report's notifications and decides, for each
organisation, what cancelling does (``tellusonce.domain.cancellation``): a copy still
queued is cancelled and never sent; an organisation that has it, or is being sent it,
gets a cancellation event (``tellusonce.change.<type>.cancelled.v1``) under the same
consent receipt, naming the original, queued behind it so that it is never delivered
first. The warning page shows the plan. ``write_cancellation`` writes it in the
caller's one transaction: the report, the cancelled notifications, the cancellation
events and an audit event. Nothing is sent here.

A correction (issue 18) is the same shape: a follow-up notification per organisation,
``original_id`` naming the first one and ``after_id`` the one it waits for
(``chain_tails``), written with ``insert_notifications``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from tellusonce.clock import utcnow
from tellusonce.data.audit import record_event
from tellusonce.data.outbox import cancel_queued, chain_tails, insert_notifications
from tellusonce.data.reports import mark_cancelled
from tellusonce.data.tracking import report_notifications
from tellusonce.domain.cancellation import CANCELLABLE_REPORTS, CancelStep, can_cancel, cancel_step
from tellusonce.domain.events import cancellation_data
from tellusonce.models import ChangeReport, Citizen, Department, Notification, NotificationKind, NotificationState

NOT_SENT_REASON = "the report was cancelled before delivery"


class AlreadyCancelled(ValueError):
    """The report is cancelled already (or was never sent): it cannot be cancelled again."""


@dataclass(frozen=True)
class OrganisationStep:
    """What cancelling does for one organisation told of the report."""

    department: Department
    original: Notification
    step: CancelStep


@dataclass(frozen=True)
class Cancellation:
    """Everything cancelling one report writes, decided before anything is written."""

    report: ChangeReport
    citizen_id: uuid.UUID
    organisations: list[OrganisationStep]
    events: dict[uuid.UUID, dict[str, Any]]  # original id -> its cancellation event's row (but for after_id)
    now: datetime

    @property
    def not_sent(self) -> list[OrganisationStep]:
        return [o for o in self.organisations if o.step == CancelStep.NOT_SENT]

    @property
    def told(self) -> list[OrganisationStep]:
        return [o for o in self.organisations if o.step == CancelStep.TELL]


@dataclass(frozen=True)
class CancelResult:
    report: ChangeReport
    not_sent: list[str]  # department ids whose copy was cancelled before it was sent
    told: list[str]  # department ids that will be told it is cancelled
    events: list[uuid.UUID]  # the cancellation events queued


def plan_cancellation(session: Session, citizen: Citizen, report: ChangeReport, *,
                      now: datetime | None = None) -> Cancellation:
    """Read and decide what cancelling ``report`` does, writing nothing. ``AlreadyCancelled`` when
    it cannot be cancelled (it is already)."""
    now = now or utcnow()
    if report.citizen_id != citizen.id:
        raise LookupError("not this citizen's report")
    if not can_cancel(report.state):
        raise AlreadyCancelled(report.reference)
    originals = [n for n in report_notifications(session, citizen.id, report.id) if n.kind == NotificationKind.CHANGE]
    organisations = [OrganisationStep(n.department, n, cancel_step(n.state)) for n in originals]
    # An event for every copy that is or may become the organisation's: one still queued may be
    # claimed before this is written, and is then told too (``write_cancellation``).
    events = {o.original.id: _event_row(report, o.original, now)
              for o in organisations if o.step != CancelStep.NOTHING}
    return Cancellation(report, citizen.id, organisations, events, now)


def write_cancellation(session: Session, cancellation: Cancellation) -> CancelResult:
    """Write what ``plan_cancellation`` decided, in the caller's transaction.

    The report is cancelled first, conditionally: a report cancelled meanwhile (another tab)
    raises ``AlreadyCancelled`` and nothing is written. Queued copies are cancelled; any the
    plan meant to cancel that a worker claimed in between are being sent, so their
    organisations are told instead.
    """
    report, now = cancellation.report, cancellation.now
    if not mark_cancelled(session, report.id, states=CANCELLABLE_REPORTS, now=now):
        raise AlreadyCancelled(report.reference)
    planned = [o.original.id for o in cancellation.not_sent]
    cancelled = {notification_id for notification_id, _ in cancel_queued(
        session, Notification.id.in_(planned), now=now, reason=NOT_SENT_REASON)} if planned else set()
    # Read after the report is cancelled (and, on PostgreSQL, locked): the chain as it now stands.
    tails = chain_tails(session, report.id)
    rows = [dict(cancellation.events[o.original.id], after_id=tails[o.department.id])
            for o in cancellation.organisations
            if o.step == CancelStep.TELL or (o.step == CancelStep.NOT_SENT and o.original.id not in cancelled)]
    insert_notifications(session, rows)
    told = sorted(row["department_id"] for row in rows)
    not_sent = sorted(o.department.id for o in cancellation.not_sent if o.original.id in cancelled)
    record_event(session, actor=f"citizen:{cancellation.citizen_id}", action="report.cancelled",
                 subject_type="change_report", subject_id=report.id, at=now, flush=False,
                 details={"reference": report.reference, "not_sent": not_sent, "told": told,
                          "events": {row["department_id"]: str(row["id"]) for row in rows}})
    session.expire(report)
    if cancelled:
        for o in cancellation.not_sent:
            session.expire(o.original)
    return CancelResult(report, not_sent, told, [row["id"] for row in rows])


def cancel_report(session: Session, citizen: Citizen, report: ChangeReport, *,
                  now: datetime | None = None) -> CancelResult:
    """Cancel a report: ``plan_cancellation`` then ``write_cancellation``, in the caller's transaction."""
    return write_cancellation(session, plan_cancellation(session, citizen, report, now=now))


def _event_row(report: ChangeReport, original: Notification, now: datetime) -> dict[str, Any]:
    """The cancellation event for one organisation: identifiers only, under the original's receipt."""
    return {
        "id": uuid.uuid4(), "report_id": report.id, "citizen_id": report.citizen_id,
        "department_id": original.department_id, "change_type": original.change_type,
        "kind": NotificationKind.CANCELLATION, "original_id": original.id,
        "state": NotificationState.PENDING,
        "payload": cancellation_data(original_id=original.id, report_reference=report.reference),
        "consent_receipt_id": original.consent_receipt_id, "attempt_count": 0, "next_attempt_at": now,
        "created_at": now, "updated_at": now,
    }
