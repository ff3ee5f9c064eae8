"""Correcting a sent report: queued copies replaced, organisations that have it sent a correction
event with only what they may see that changed, in order, and nothing for the rest."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tellusonce.application.cancellation import cancel_report
from tellusonce.application.correction import (
    CorrectedMeanwhile,
    NotCorrectable,
    correct_report,
    plan_correction,
    write_correction,
)
from tellusonce.application.intake import ChangeRequest, submit_change
from tellusonce.data.outbox import AttemptRecord, claim_due, record_attempts
from tellusonce.domain.correction import CorrectStep
from tellusonce.domain.validation import ChangeInvalid
from tellusonce.models import AuditEvent, ChangeReport, NotificationKind, NotificationState
from tests.factories import (
    NOW,
    PLANNED_DAY,
    by_department,
    make_citizen,
    planned_request,
    queued_notifications,
    reported_move,
    set_copy_state,
)

LATER = NOW + timedelta(hours=1)
TOLD = ["dvla", "hmrc", "dwp"]
LEASE = timedelta(seconds=30)


def _corrected(report: ChangeReport, **changes):  # type: ignore[no-untyped-def]
    return {**report.answers, **changes}


def test_an_organisation_that_has_it_gets_a_correction_with_only_the_changed_fields_it_may_see(
        db_session: Session) -> None:
    citizen, report = reported_move(db_session, TOLD)
    set_copy_state(db_session, report, "dvla", NotificationState.DELIVERED, delivered_at=NOW)
    set_copy_state(db_session, report, "hmrc", NotificationState.ACKNOWLEDGED, delivered_at=NOW, acknowledged_at=NOW)
    set_copy_state(db_session, report, "dwp", NotificationState.DELIVERED, delivered_at=NOW)
    # A new postcode, and a previous postcode that only HMRC receives.
    result = correct_report(db_session, citizen, report,
                            _corrected(report, postcode="LS11 5PT", previous_postcode="LS1 1AB"), now=LATER)
    assert (result.replaced, result.told, result.unchanged) == ([], ["dvla", "dwp", "hmrc"], [])
    rows = by_department(db_session, report)
    for department, corrected in (("dvla", {"postcode": "LS11 5PT"}), ("dwp", {"postcode": "LS11 5PT"}),
                                  ("hmrc", {"postcode": "LS11 5PT", "previous_postcode": "LS1 1AB"})):
        original, event = rows[department]
        assert event.kind == NotificationKind.CORRECTION and event.state == NotificationState.PENDING
        assert event.original_id == original.id and event.after_id == original.id  # never before the original
        assert event.consent_receipt_id == original.consent_receipt_id  # under the same consent receipt
        assert event.payload == {**corrected, "original_notification_id": str(original.id),
                                 "report_reference": report.reference}
    db_session.refresh(report)
    assert report.answers["postcode"] == "LS11 5PT" and report.answers["previous_postcode"] == "LS1 1AB"
    [audit] = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "report.corrected")).all()
    assert audit.details["changed"] == ["postcode", "previous_postcode"]  # names, never values
    assert audit.details["told"] == ["dvla", "dwp", "hmrc"] and "LS11 5PT" not in str(audit.details)


def test_a_queued_copy_is_replaced_by_the_corrected_one_and_never_both_sent(db_session: Session) -> None:
    citizen, report = reported_move(db_session, TOLD)
    set_copy_state(db_session, report, "dvla", NotificationState.RETRYING, attempt_count=1, next_attempt_at=LATER + timedelta(minutes=5))
    result = correct_report(db_session, citizen, report, _corrected(report, address_line_1="5 Canal Wharf"), now=LATER)
    assert (result.replaced, result.told) == (["dvla", "dwp", "hmrc"], [])
    rows = by_department(db_session, report)
    old, new = rows["dvla"]
    assert (old.kind, old.state, old.cancelled_at) == ("change", NotificationState.CANCELLED, LATER)
    assert (new.kind, new.state, new.after_id, new.original_id) == ("change", NotificationState.PENDING, old.id, None)
    assert new.payload == {**old.payload, "address_line_1": "5 Canal Wharf"}  # the whole corrected view
    assert new.consent_receipt_id == old.consent_receipt_id
    assert new.next_attempt_at == LATER + timedelta(minutes=5)  # not due before the one it replaces was
    assert rows["hmrc"][1].next_attempt_at == LATER  # that one was due already: due now
    assert rows["dwp"][1].payload.get("language") == rows["dwp"][0].payload.get("language") == "en"
    # Only the corrected copies can be claimed.
    claimed = claim_due(db_session, worker="w", limit=10, lease=LEASE, now=LATER + timedelta(minutes=5))
    assert sorted(c.id for c in claimed) == sorted(ns[1].id for ns in rows.values())


def test_an_organisation_for_which_nothing_it_may_see_changed_is_sent_nothing(db_session: Session) -> None:
    citizen, report = reported_move(db_session, TOLD)
    set_copy_state(db_session, report, "dvla", NotificationState.DELIVERED, delivered_at=NOW)
    # Only DWP is told who else is moving.
    plan = plan_correction(db_session, citizen, report, _corrected(report, others_moving=True), now=LATER)
    steps = {o.department.id: o.step for o in plan.organisations}
    assert steps == {"dvla": CorrectStep.UNCHANGED, "hmrc": CorrectStep.UNCHANGED, "dwp": CorrectStep.REPLACE}
    result = write_correction(db_session, plan)
    assert (result.replaced, result.told, result.unchanged) == (["dwp"], [], ["dvla", "hmrc"])
    rows = by_department(db_session, report)
    assert [n.state for n in rows["dvla"]] == [NotificationState.DELIVERED]
    assert [n.state for n in rows["hmrc"]] == [NotificationState.PENDING]  # left queued as it was
    assert [n.state for n in rows["dwp"]] == [NotificationState.CANCELLED, NotificationState.PENDING]


def test_a_copy_a_worker_claims_between_the_check_page_and_sending_gets_a_correction_instead(
        db_session: Session) -> None:
    citizen, report = reported_move(db_session, TOLD)
    plan = plan_correction(db_session, citizen, report, _corrected(report, postcode="LS11 5PT"), now=LATER)
    assert [o.step for o in plan.organisations] == [CorrectStep.REPLACE] * 3
    claim_due(db_session, worker="w", limit=10, lease=LEASE, now=NOW, department_ids=["hmrc"])
    result = write_correction(db_session, plan)
    assert (result.replaced, result.told) == (["dvla", "dwp"], ["hmrc"])
    original, event = by_department(db_session, report)["hmrc"]
    assert original.state == NotificationState.DELIVERING  # left to finish: it is being sent
    assert event.kind == NotificationKind.CORRECTION and event.original_id == original.id
    assert event.after_id == original.id and event.payload["postcode"] == "LS11 5PT"


def test_a_correction_is_not_claimed_before_its_original_is_delivered(db_session: Session) -> None:
    citizen, report = reported_move(db_session, TOLD)
    [claimed] = claim_due(db_session, worker="w", limit=10, lease=LEASE, now=LATER - timedelta(seconds=5),
                          department_ids=["dvla"])
    correct_report(db_session, citizen, report, _corrected(report, postcode="LS11 5PT"), now=LATER)
    event = by_department(db_session, report)["dvla"][1]
    # The original is being sent: the correction waits for it.
    assert claim_due(db_session, worker="w2", limit=10, lease=LEASE, now=LATER, department_ids=["dvla"]) == []
    record_attempts(db_session, [AttemptRecord(claimed.id, "dvla", "delivered", LATER, LATER, 200)],
                    worker="w", now=LATER)
    [next_one] = claim_due(db_session, worker="w2", limit=10, lease=LEASE, now=LATER, department_ids=["dvla"])
    assert next_one.id == event.id and next_one.kind == NotificationKind.CORRECTION


def test_a_second_correction_compares_with_the_first_and_waits_behind_it(db_session: Session) -> None:
    citizen, report = reported_move(db_session, TOLD)
    set_copy_state(db_session, report, "dvla", NotificationState.DELIVERED, delivered_at=NOW)
    correct_report(db_session, citizen, report, _corrected(report, postcode="LS11 5PT"), now=LATER)
    db_session.refresh(report)
    correct_report(db_session, citizen, report, _corrected(report, town="Wakefield"),
                   now=LATER + timedelta(minutes=1))
    original, first, second = by_department(db_session, report)["dvla"]
    assert first.payload["postcode"] == "LS11 5PT" and "town" not in first.payload
    assert second.payload["town"] == "Wakefield" and "postcode" not in second.payload
    assert second.original_id == original.id and second.after_id == first.id
    # The replaced copies are replaced again: each organisation keeps one copy to be sent.
    hmrc = by_department(db_session, report)["hmrc"]
    assert [n.state for n in hmrc] == ["cancelled", "cancelled", "pending"] and hmrc[2].payload["town"] == "Wakefield"


def test_an_answer_taken_out_is_sent_as_no_longer_given(db_session: Session) -> None:
    citizen, report = reported_move(db_session, TOLD, address_line_2="Holbeck")
    set_copy_state(db_session, report, "dvla", NotificationState.DELIVERED, delivered_at=NOW)
    correct_report(db_session, citizen, report, _corrected(report, address_line_2=None), now=LATER)
    event = by_department(db_session, report)["dvla"][1]
    assert event.payload["address_line_2"] is None
    db_session.refresh(report)
    assert "address_line_2" not in report.answers


def test_corrected_answers_are_validated_as_a_new_report_is(db_session: Session) -> None:
    citizen, report = reported_move(db_session, TOLD)
    with pytest.raises(ChangeInvalid) as error:
        plan_correction(db_session, citizen, report, _corrected(report, postcode="not a postcode"), now=LATER)
    assert "postcode" in error.value.by_field()


def test_a_cancelled_report_cannot_be_corrected_and_a_plan_made_before_writes_nothing(db_session: Session) -> None:
    citizen, report = reported_move(db_session, TOLD)
    set_copy_state(db_session, report, "dvla", NotificationState.DELIVERED, delivered_at=NOW)
    plan = plan_correction(db_session, citizen, report, _corrected(report, postcode="LS11 5PT"), now=LATER)
    cancel_report(db_session, citizen, report, now=LATER)
    with pytest.raises(NotCorrectable):
        write_correction(db_session, plan)
    with pytest.raises(NotCorrectable):
        plan_correction(db_session, citizen, report, _corrected(report, postcode="LS11 5PT"), now=LATER)
    assert not any(n.kind == NotificationKind.CORRECTION for ns in by_department(db_session, report).values()
                   for n in ns)


def test_a_correction_planned_before_another_was_sent_writes_nothing(db_session: Session) -> None:
    citizen, report = reported_move(db_session, TOLD)
    stale = plan_correction(db_session, citizen, report, _corrected(report, postcode="LS11 5PT"), now=LATER)
    correct_report(db_session, citizen, report, _corrected(report, town="Wakefield"), now=LATER)
    with pytest.raises(CorrectedMeanwhile):
        write_correction(db_session, stale)
    db_session.refresh(report)
    assert (report.answers["town"], report.answers["postcode"]) == ("Wakefield", "LS11 5PS")


def test_another_citizens_report_is_refused(db_session: Session) -> None:
    _, report = reported_move(db_session, TOLD)
    with pytest.raises(LookupError):
        plan_correction(db_session, make_citizen(db_session), report, dict(report.answers), now=LATER)


def test_a_report_about_someone_else_keeps_whose_details_it_gave_in_step(db_session: Session) -> None:
    from tellusonce.models import PersonDetails
    from tests.factories import death_answers

    citizen = make_citizen(db_session)
    report = submit_change(db_session, citizen, ChangeRequest(
        change_type="death", answers={**death_answers(), "authority_declared": True}, recipients=["dwp"],
        consent={"dwp": "once"}, submission_key="d"), now=NOW).report
    correct_report(db_session, citizen, report, _corrected(report, deceased_family_name="Okafor-Bello"), now=LATER)
    db_session.expire_all()
    person = db_session.get_one(PersonDetails, report.subject_person_id)
    assert (person.given_names, person.family_name) == ("Grace", "Okafor-Bello")


def test_correcting_the_date_of_a_planned_move_plans_the_corrected_copy_for_the_new_date(db_session):
    citizen = make_citizen(db_session)
    result = submit_change(db_session, citizen, planned_request({"dvla": "on_date", "leeds-council-tax": "on_date"}), now=NOW)
    report = result.report
    later = NOW + timedelta(hours=1)
    correct_report(db_session, citizen, report, {**report.answers, "move_date": "2027-02-22"}, now=later)
    current = {n.department_id: n for n in queued_notifications(db_session).values() if n.state == NotificationState.PENDING}
    a_week_on = PLANNED_DAY + timedelta(days=7)
    assert (current["dvla"].planned_for, current["dvla"].next_attempt_at) == (a_week_on, a_week_on)
    assert current["leeds-council-tax"].planned_for == a_week_on - timedelta(days=14)
    # One told now stays told now: the correction replaces it, due at once.
    assert (current["hmrc"].planned_for, current["hmrc"].next_attempt_at) == (None, later)
