"""A change reported ahead of its date: queued per organisation for now or for the date, never
claimed before it is due, cancelled with its report, and kept back when consent is withdrawn."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tellusonce.application.cancellation import cancel_report
from tellusonce.application.consent import withdraw_consent
from tellusonce.application.correction import correct_report
from tellusonce.application.intake import ChangeRequest, IntakeError, confirm_held_change, hold_change, submit_change
from tellusonce.data.outbox import claim_due
from tellusonce.data.stats import oldest_waiting
from tellusonce.models import AuditEvent, ConsentGrant, Notification, NotificationState
from tests.factories import NOW, address_answers, make_citizen

MOVE = "2027-02-15"
ON_THE_DATE = datetime(2027, 2, 15, tzinfo=UTC)  # midnight in the UK in winter
TOLD = ["dvla", "hmrc", "leeds-council-tax", "meadow-lane-surgery"]


def _request(timing, **overrides):  # type: ignore[no-untyped-def]
    values = dict(change_type="address", answers=address_answers(move_date=MOVE), recipients=TOLD,
                  consent={d: "once" for d in TOLD}, submission_key="k", timing=timing)
    values.update(overrides)
    return ChangeRequest(**values)


def _queued(session) -> dict[str, Notification]:  # type: ignore[no-untyped-def]
    session.expire_all()
    return {n.department_id: n for n in session.scalars(select(Notification))}


def test_each_organisation_is_queued_for_now_or_for_the_date_less_the_notice_it_asks_for(db_session):
    result = submit_change(db_session, make_citizen(db_session), _request(
        {"dvla": "on_date", "hmrc": "now", "leeds-council-tax": "on_date", "meadow-lane-surgery": "on_date"}), now=NOW)
    queued = _queued(db_session)
    assert (queued["dvla"].planned_for, queued["dvla"].next_attempt_at) == (ON_THE_DATE, ON_THE_DATE)
    assert queued["leeds-council-tax"].planned_for == ON_THE_DATE - timedelta(days=14)
    assert queued["hmrc"].planned_for is None and queued["hmrc"].next_attempt_at == NOW
    # A feed organisation pulls what is queued, so it is told at once whatever was asked.
    assert queued["meadow-lane-surgery"].planned_for is None
    outcomes = {o.department.id: o for o in result.outcomes}
    assert outcomes["dvla"].planned_for == ON_THE_DATE and outcomes["hmrc"].on_date_at == ON_THE_DATE
    event = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "report.submitted")).one()
    assert set(event.details["planned"]) == {"dvla", "leeds-council-tax"}


def test_an_organisation_not_named_is_told_now_and_a_date_already_here_is_not_planned(db_session):
    citizen = make_citizen(db_session)
    submit_change(db_session, citizen, _request({}), now=NOW)
    assert {n.planned_for for n in _queued(db_session).values()} == {None}
    # Ten days ahead: the council's fourteen days' notice has begun, so "on the date" is now for it.
    soon = (NOW + timedelta(days=10)).date().isoformat()
    submit_change(db_session, citizen, _request({"dvla": "on_date", "leeds-council-tax": "on_date"},
                                                answers=address_answers(move_date=soon, postcode="LS2 9JT"),
                                                submission_key="k2"), now=NOW)
    later = {n.department_id: n for n in _queued(db_session).values() if n.payload.get("postcode") == "LS2 9JT"}
    assert later["leeds-council-tax"].planned_for is None and later["dvla"].planned_for is not None


def test_an_unknown_timing_is_refused(db_session):
    with pytest.raises(IntakeError, match="when to tell"):
        submit_change(db_session, make_citizen(db_session), _request({"dvla": "tomorrow"}), now=NOW)


def test_a_planned_notification_is_not_claimed_before_it_is_due(db_session):
    submit_change(db_session, make_citizen(db_session), _request({"dvla": "on_date", "leeds-council-tax": "on_date"}), now=NOW)
    claim = dict(worker="w", limit=10, lease=timedelta(days=365))  # nothing claimed comes back in this test
    # HMRC is told now (not named); the surgery is a feed, which no worker claims.
    assert [c.department_id for c in claim_due(db_session, now=NOW + timedelta(minutes=1), **claim)] == ["hmrc"]
    assert claim_due(db_session, now=ON_THE_DATE - timedelta(days=14, seconds=1), **claim) == []
    assert [c.department_id for c in claim_due(db_session, now=ON_THE_DATE - timedelta(days=14), **claim)] == [
        "leeds-council-tax"]
    assert [c.department_id for c in claim_due(db_session, now=ON_THE_DATE + timedelta(hours=8), **claim)] == ["dvla"]


def test_cancelling_the_report_cancels_what_is_planned_so_it_is_never_sent(db_session):
    citizen = make_citizen(db_session)
    result = submit_change(db_session, citizen, _request({d: "on_date" for d in TOLD}, recipients=["dvla"]), now=NOW)
    cancelled = cancel_report(db_session, citizen, result.report, now=NOW + timedelta(days=3))
    assert cancelled.not_sent == ["dvla"] and cancelled.told == []
    assert _queued(db_session)["dvla"].state == NotificationState.CANCELLED
    assert claim_due(db_session, worker="w", limit=10, lease=timedelta(seconds=30), now=ON_THE_DATE + timedelta(days=1)) == []


def test_consent_withdrawn_before_the_date_means_it_is_never_sent(db_session):
    citizen = make_citizen(db_session)
    submit_change(db_session, citizen, _request({"dvla": "on_date"}, recipients=["dvla"]), now=NOW)
    grant = db_session.scalars(select(ConsentGrant)).one()
    withdraw_consent(db_session, citizen_id=citizen.id, grant_id=grant.id, now=NOW + timedelta(days=30))
    assert _queued(db_session)["dvla"].state == NotificationState.CANCELLED
    assert claim_due(db_session, worker="w", limit=10, lease=timedelta(seconds=30), now=ON_THE_DATE + timedelta(days=1)) == []


def test_an_emailed_change_held_for_confirmation_is_planned_when_it_is_confirmed(db_session):
    citizen = make_citizen(db_session)
    held = hold_change(db_session, citizen, _request({"dvla": "on_date"}, recipients=["dvla"], channel="email"), now=NOW)
    assert _queued(db_session) == {}
    confirm_held_change(db_session, held.report, now=NOW + timedelta(hours=2))
    assert _queued(db_session)["dvla"].planned_for == ON_THE_DATE


def test_a_planned_notification_is_not_counted_as_waiting_until_it_is_due(db_session):
    submit_change(db_session, make_citizen(db_session), _request({"dvla": "on_date"}, recipients=["dvla", "hmrc"]), now=NOW)
    db_session.flush()
    assert dict(oldest_waiting(db_session, now=NOW + timedelta(days=1))) == {"hmrc": NOW}
    assert dict(oldest_waiting(db_session, now=ON_THE_DATE + timedelta(hours=1))) == {"hmrc": NOW, "dvla": ON_THE_DATE}


def test_correcting_the_date_of_a_planned_move_plans_the_corrected_copy_for_the_new_date(db_session):
    citizen = make_citizen(db_session)
    result = submit_change(db_session, citizen, _request({"dvla": "on_date", "leeds-council-tax": "on_date"}), now=NOW)
    report = result.report
    later = NOW + timedelta(hours=1)
    correct_report(db_session, citizen, report, {**report.answers, "move_date": "2027-02-22"}, now=later)
    current = {n.department_id: n for n in _queued(db_session).values() if n.state == NotificationState.PENDING}
    a_week_on = ON_THE_DATE + timedelta(days=7)
    assert (current["dvla"].planned_for, current["dvla"].next_attempt_at) == (a_week_on, a_week_on)
    assert current["leeds-council-tax"].planned_for == a_week_on - timedelta(days=14)
    # One told now stays told now: the correction replaces it, due at once.
    assert (current["hmrc"].planned_for, current["hmrc"].next_attempt_at) == (None, later)
