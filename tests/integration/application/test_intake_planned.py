"""A change reported ahead of its date: each organisation queued for now or for the date (less the
notice it asks for), an unknown timing refused, and an emailed change planned once it is confirmed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tellusonce.application.intake import IntakeError, confirm_held_change, hold_change, submit_change
from tellusonce.models import AuditEvent
from tests.factories import NOW, PLANNED_DAY, address_answers, make_citizen, planned_request, queued_notifications


def test_each_organisation_is_queued_for_now_or_for_the_date_less_the_notice_it_asks_for(db_session):
    result = submit_change(db_session, make_citizen(db_session), planned_request(
        {"dvla": "on_date", "hmrc": "now", "leeds-council-tax": "on_date", "meadow-lane-surgery": "on_date"}), now=NOW)
    queued = queued_notifications(db_session)
    assert (queued["dvla"].planned_for, queued["dvla"].next_attempt_at) == (PLANNED_DAY, PLANNED_DAY)
    assert queued["leeds-council-tax"].planned_for == PLANNED_DAY - timedelta(days=14)
    assert queued["hmrc"].planned_for is None and queued["hmrc"].next_attempt_at == NOW
    # A feed organisation pulls what is queued, so it is told at once whatever was asked.
    assert queued["meadow-lane-surgery"].planned_for is None
    outcomes = {o.department.id: o for o in result.outcomes}
    assert outcomes["dvla"].planned_for == PLANNED_DAY and outcomes["hmrc"].on_date_at == PLANNED_DAY
    event = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "report.submitted")).one()
    assert set(event.details["planned"]) == {"dvla", "leeds-council-tax"}


def test_an_organisation_not_named_is_told_now_and_a_date_already_here_is_not_planned(db_session):
    citizen = make_citizen(db_session)
    submit_change(db_session, citizen, planned_request({}), now=NOW)
    assert {n.planned_for for n in queued_notifications(db_session).values()} == {None}
    # Ten days ahead: the council's fourteen days' notice has begun, so "on the date" is now for it.
    soon = (NOW + timedelta(days=10)).date().isoformat()
    submit_change(db_session, citizen, planned_request({"dvla": "on_date", "leeds-council-tax": "on_date"},
                                                answers=address_answers(move_date=soon, postcode="LS2 9JT"),
                                                submission_key="k2"), now=NOW)
    later = {n.department_id: n for n in queued_notifications(db_session).values() if n.payload.get("postcode") == "LS2 9JT"}
    assert later["leeds-council-tax"].planned_for is None and later["dvla"].planned_for is not None


def test_an_unknown_timing_is_refused(db_session):
    with pytest.raises(IntakeError, match="when to tell"):
        submit_change(db_session, make_citizen(db_session), planned_request({"dvla": "tomorrow"}), now=NOW)


def test_an_emailed_change_held_for_confirmation_is_planned_when_it_is_confirmed(db_session):
    citizen = make_citizen(db_session)
    held = hold_change(db_session, citizen, planned_request({"dvla": "on_date"}, recipients=["dvla"], channel="email"), now=NOW)
    assert queued_notifications(db_session) == {}
    confirm_held_change(db_session, held.report, now=NOW + timedelta(hours=2))
    assert queued_notifications(db_session)["dvla"].planned_for == PLANNED_DAY
