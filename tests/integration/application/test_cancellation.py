"""Cancelling a sent report: queued copies cancelled, organisations that have it sent a cancellation event."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tellusonce.application.cancellation import AlreadyCancelled, cancel_report, plan_cancellation, write_cancellation
from tellusonce.application.intake import submit_change
from tellusonce.data.outbox import claim_due
from tellusonce.domain.cancellation import CancelStep
from tellusonce.models import AuditEvent, NotificationKind, NotificationState, ReportState
from tests.factories import (
    NOW,
    PLANNED_DAY,
    PLANNED_TOLD,
    by_department,
    make_citizen,
    planned_request,
    queued_notifications,
    reported_move,
    set_copy_state,
)

LATER = NOW + timedelta(hours=1)
TOLD = ["dvla", "hmrc", "dwp"]


def test_queued_copies_are_cancelled_and_each_organisation_that_has_it_gets_a_cancellation_naming_it(
        db_session: Session) -> None:
    citizen, report = reported_move(db_session, TOLD)
    set_copy_state(db_session, report, "dvla", NotificationState.DELIVERED, delivered_at=NOW)
    set_copy_state(db_session, report, "hmrc", NotificationState.ACKNOWLEDGED, delivered_at=NOW, acknowledged_at=NOW)
    result = cancel_report(db_session, citizen, report, now=LATER)
    assert (result.not_sent, result.told) == (["dwp"], ["dvla", "hmrc"])
    rows = by_department(db_session, report)
    dwp = rows["dwp"]
    assert [(n.kind, n.state, n.cancelled_at) for n in dwp] == [("change", "cancelled", LATER)]
    for department in ("dvla", "hmrc"):
        original, event = rows[department]
        assert event.kind == NotificationKind.CANCELLATION and event.state == NotificationState.PENDING
        assert event.original_id == original.id and event.after_id == original.id
        assert event.consent_receipt_id == original.consent_receipt_id  # under the same consent receipt
        assert event.payload == {"original_notification_id": str(original.id), "report_reference": report.reference}
    db_session.refresh(report)
    assert (report.state, report.cancelled_at) == (ReportState.CANCELLED, LATER)
    [audit] = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "report.cancelled")).all()
    assert audit.details["not_sent"] == ["dwp"] and sorted(audit.details["events"]) == ["dvla", "hmrc"]


def test_a_copy_being_sent_is_left_to_finish_and_its_organisation_is_told(db_session: Session) -> None:
    citizen, report = reported_move(db_session, TOLD)
    set_copy_state(db_session, report, "dvla", NotificationState.DELIVERING, claimed_by="w", lease_expires_at=LATER)
    plan = plan_cancellation(db_session, citizen, report, now=LATER)
    assert {o.department.id: o.step for o in plan.organisations} == {
        "dvla": CancelStep.TELL, "hmrc": CancelStep.NOT_SENT, "dwp": CancelStep.NOT_SENT}
    write_cancellation(db_session, plan)
    rows = by_department(db_session, report)
    assert [n.state for n in rows["dvla"]] == [NotificationState.DELIVERING, NotificationState.PENDING]


def test_a_copy_a_worker_claims_between_the_warning_and_the_cancel_is_told_not_lost(db_session: Session) -> None:
    citizen, report = reported_move(db_session, TOLD)
    plan = plan_cancellation(db_session, citizen, report, now=LATER)
    assert [o.step for o in plan.organisations] == [CancelStep.NOT_SENT] * 3
    claim_due(db_session, worker="w", limit=10, lease=timedelta(seconds=30), now=NOW, department_ids=["hmrc"])
    result = write_cancellation(db_session, plan)
    assert (result.not_sent, result.told) == (["dvla", "dwp"], ["hmrc"])
    assert [n.kind for n in by_department(db_session, report)["hmrc"]] == ["change", "cancellation"]


def test_what_never_reached_an_organisation_needs_no_cancellation(db_session: Session) -> None:
    citizen, report = reported_move(db_session, TOLD)
    set_copy_state(db_session, report, "dvla", NotificationState.DEAD, dead_at=NOW)
    set_copy_state(db_session, report, "hmrc", NotificationState.CANCELLED, cancelled_at=NOW)
    result = cancel_report(db_session, citizen, report, now=LATER)
    assert (result.not_sent, result.told) == (["dwp"], [])
    assert {d: len(ns) for d, ns in by_department(db_session, report).items()} == {"dvla": 1, "hmrc": 1, "dwp": 1}


def test_a_report_cannot_be_cancelled_twice(db_session: Session) -> None:
    citizen, report = reported_move(db_session, TOLD)
    set_copy_state(db_session, report, "dvla", NotificationState.DELIVERED, delivered_at=NOW)
    plan = plan_cancellation(db_session, citizen, report, now=LATER)
    cancel_report(db_session, citizen, report, now=LATER)
    with pytest.raises(AlreadyCancelled):
        cancel_report(db_session, citizen, report, now=LATER)
    with pytest.raises(AlreadyCancelled):  # a plan made before (another tab) writes nothing either
        write_cancellation(db_session, plan)
    assert len(by_department(db_session, report)["dvla"]) == 2


def test_another_citizens_report_is_refused(db_session: Session) -> None:
    _, report = reported_move(db_session, TOLD)
    with pytest.raises(LookupError):
        plan_cancellation(db_session, make_citizen(db_session), report, now=LATER)


def test_cancelling_the_report_cancels_what_is_planned_so_it_is_never_sent(db_session):
    citizen = make_citizen(db_session)
    result = submit_change(db_session, citizen, planned_request({d: "on_date" for d in PLANNED_TOLD}, recipients=["dvla"]), now=NOW)
    cancelled = cancel_report(db_session, citizen, result.report, now=NOW + timedelta(days=3))
    assert cancelled.not_sent == ["dvla"] and cancelled.told == []
    assert queued_notifications(db_session)["dvla"].state == NotificationState.CANCELLED
    assert claim_due(db_session, worker="w", limit=10, lease=timedelta(seconds=30), now=PLANNED_DAY + timedelta(days=1)) == []
