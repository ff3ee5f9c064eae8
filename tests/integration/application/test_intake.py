"""The one intake function: validation, who is told, one transaction, idempotency."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tellusonce.application.consent import grant_consent
from tellusonce.application.intake import (
    ChangeRequest,
    confirm_held_change,
    hold_change,
    plan_change,
    plan_submission,
    submit_change,
    write_submission,
)
from tellusonce.data.audit import verify_chain
from tellusonce.data.departments import get_department
from tellusonce.data.reports import insert_report
from tellusonce.db import is_sqlite, transaction
from tellusonce.domain.validation import ChangeInvalid
from tellusonce.models import (
    AuditEvent,
    ChangeReport,
    Citizen,
    ConsentEvent,
    Notification,
    NotificationState,
    PersonDetails,
    ReportState,
)
from tests.conftest import clean_database
from tests.factories import NOW, address_answers, death_answers, make_citizen


def _request(**overrides):
    values = dict(
        change_type="address", answers=address_answers(), recipients=["dvla", "hmrc", "leeds-council-tax"],
        consent={"dvla": "once", "hmrc": "always", "leeds-council-tax": "once"}, channel="web",
        submission_key="key-1",
    )
    values.update(overrides)
    return ChangeRequest(**values)


def test_submit_writes_report_and_one_notification_per_consented_department(db_session):
    citizen = make_citizen(db_session)
    result = submit_change(db_session, citizen, _request(), now=NOW)
    assert result.created
    assert result.report.reference.startswith("TUO-")
    assert result.report.state == ReportState.SUBMITTED
    notifications = db_session.scalars(select(Notification).where(Notification.report_id == result.report.id)).all()
    assert sorted(n.department_id for n in notifications) == ["dvla", "hmrc", "leeds-council-tax"]
    assert all(n.state == NotificationState.PENDING and n.next_attempt_at == NOW for n in notifications)
    assert db_session.scalar(select(func.count()).select_from(ConsentEvent)) == 3
    assert db_session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "report.submitted")) == 1


def test_each_submission_extends_the_citizens_audit_chain(db_session):
    citizen = make_citizen(db_session)
    for key in ("key-1", "key-2"):
        submit_change(db_session, citizen, _request(submission_key=key, answers=address_answers(address_line_1=f"{key} Canal Wharf")), now=NOW)
    events = db_session.scalars(select(AuditEvent).where(AuditEvent.chain == f"citizen:{citizen.id}")
                                .order_by(AuditEvent.id)).all()
    assert [e.action for e in events][-2:] == ["report.submitted", "report.submitted"]
    assert events[-1].prev_hash == events[-2].hash
    assert verify_chain(db_session).ok


def test_each_department_receives_only_its_registry_fields(db_session):
    citizen = make_citizen(db_session)
    submit_change(db_session, citizen, _request(), now=NOW)
    by_department = {n.department_id: n.payload for n in db_session.scalars(select(Notification))}
    assert set(by_department["dvla"]) == {"given_names", "family_name", "date_of_birth", "address_line_1", "town", "postcode", "move_date"}
    assert "ni_number" not in by_department["dvla"]
    assert by_department["hmrc"]["ni_number"] == "AB123456C"  # filled from the profile
    assert set(by_department["leeds-council-tax"]) <= set(get_department(db_session, "leeds-council-tax").receives["address"])


def test_department_without_consent_is_not_told(db_session):
    citizen = make_citizen(db_session)
    result = submit_change(db_session, citizen, _request(consent={"dvla": "once"}), now=NOW)
    statuses = {o.department.id: o.status for o in result.outcomes if o.department.id in ("dvla", "hmrc")}
    assert statuses == {"dvla": "queued", "hmrc": "needs_consent"}
    assert [n.department_id for n in db_session.scalars(select(Notification))] == ["dvla"]


def test_standing_consent_given_earlier_is_used(db_session):
    citizen = make_citizen(db_session)
    grant_consent(db_session, citizen_id=citizen.id, department=get_department(db_session, "dwp"),
                  change_types=["address"], now=NOW - timedelta(days=30))
    result = submit_change(db_session, citizen, _request(recipients=["dwp"], consent={}), now=NOW)
    assert [(o.department.id, o.status) for o in result.outcomes if o.status == "queued"] == [("dwp", "queued")]


def test_department_that_does_not_handle_the_change_is_reported_as_such(db_session):
    citizen = make_citizen(db_session)
    result = submit_change(db_session, citizen, _request(recipients=["hmpo"], consent={"hmpo": "once"}), now=NOW)
    assert [(o.department.id, o.status) for o in result.outcomes if o.department.id == "hmpo"] == [("hmpo", "not_handled")]


def test_the_same_submission_key_twice_gives_one_report(db_session):
    citizen = make_citizen(db_session)
    first = submit_change(db_session, citizen, _request(), now=NOW)
    second = submit_change(db_session, citizen, _request(), now=NOW)
    assert not second.created and second.report.id == first.report.id
    assert db_session.scalar(select(func.count()).select_from(Notification)) == 3


def test_the_same_change_by_another_channel_is_recognised_as_a_duplicate(db_session):
    citizen = make_citizen(db_session)
    first = submit_change(db_session, citizen, _request(), now=NOW)
    again = submit_change(db_session, citizen, _request(channel="email", submission_key="email-1"), now=NOW + timedelta(hours=2))
    assert again.duplicate_of is not None and again.duplicate_of.id == first.report.id
    assert db_session.scalar(select(func.count()).select_from(Notification)) == 3


def test_invalid_change_writes_nothing(db_session):
    citizen = make_citizen(db_session)
    with pytest.raises(ChangeInvalid) as caught:
        submit_change(db_session, citizen, _request(answers=address_answers(postcode="NOT A POSTCODE")), now=NOW)
    assert [e.field for e in caught.value.errors] == ["postcode"]
    assert db_session.scalar(select(func.count()).select_from(Notification)) == 0


def test_protected_address_is_withheld_from_organisations_that_do_not_need_it(db_session):
    citizen = make_citizen(db_session)
    request = _request(
        answers=address_answers(protected_address=True),
        recipients=["dvla", "leeds-electoral-registration"],
        consent={"dvla": "once", "leeds-electoral-registration": "once"},
    )
    plan = plan_change(db_session, citizen, request, now=NOW)
    electoral = next(r for r in plan.recipients if r.department.id == "leeds-electoral-registration")
    assert "postcode" in electoral.withheld and "postcode" not in electoral.fields
    submit_change(db_session, citizen, request, now=NOW)
    payloads = {n.department_id: n.payload for n in db_session.scalars(select(Notification))}
    assert payloads["dvla"]["postcode"] == "LS11 5PS" and payloads["dvla"]["protected_address"] is True
    assert "postcode" not in payloads["leeds-electoral-registration"]
    assert payloads["leeds-electoral-registration"]["protected_address"] is True


def test_a_death_records_who_reported_it_and_on_what_authority(db_session):
    citizen = make_citizen(db_session)
    result = submit_change(
        db_session, citizen,
        _request(change_type="death", answers=death_answers(), recipients=["dwp"], consent={"dwp": "once"}),
        now=NOW,
    )
    report = result.report
    assert report.subject == "other"
    assert report.subject_person.family_name == "Okafor" and report.subject_person.reported_by_id == citizen.id
    assert report.declaration["relationship"] == "child"
    payload = db_session.scalar(select(Notification.payload))
    assert payload["reporter_given_names"] == "Amara"  # the reporter, from their profile


def test_a_held_change_is_only_queued_once_confirmed(db_session):
    citizen = make_citizen(db_session)
    held = hold_change(db_session, citizen, _request(channel="email", submission_key="<m1@example.org>"), now=NOW)
    assert held.report.state == ReportState.PENDING_CONFIRMATION
    assert db_session.scalar(select(func.count()).select_from(Notification)) == 0
    confirmed = confirm_held_change(db_session, held.report, now=NOW + timedelta(minutes=5))
    assert confirmed.report.state == ReportState.SUBMITTED
    assert db_session.scalar(select(func.count()).select_from(Notification)) == 3
    again = confirm_held_change(db_session, held.report, now=NOW + timedelta(minutes=6))
    assert not again.created
    assert db_session.scalar(select(func.count()).select_from(Notification)) == 3
    held_then_submitted = db_session.scalars(select(AuditEvent.action).where(AuditEvent.chain == f"citizen:{citizen.id}")
                                             .order_by(AuditEvent.id)).all()
    assert held_then_submitted[-2:] == ["report.held", "report.submitted"]
    assert verify_chain(db_session).ok


def test_an_organisation_that_does_not_exist_is_refused(db_session):
    from tellusonce.application.intake import IntakeError

    citizen = make_citizen(db_session)
    with pytest.raises(IntakeError, match="no such organisation: ministry-of-magic"):
        submit_change(db_session, citizen, _request(recipients=["dvla", "ministry-of-magic"]), now=NOW)


def test_a_change_reported_while_this_one_was_decided_is_recognised_as_a_duplicate(db_session):
    citizen = make_citizen(db_session)
    planned = plan_submission(db_session, citizen, _request(), now=NOW)
    meanwhile = submit_change(db_session, citizen, _request(submission_key="other-tab"), now=NOW)
    result = write_submission(db_session, citizen, planned)
    assert not result.created and result.duplicate_of is not None
    assert result.report.id == meanwhile.report.id
    assert db_session.scalar(select(func.count()).select_from(Notification)) == 3


def test_the_same_submission_made_while_this_one_was_decided_gives_that_report(db_session):
    citizen = make_citizen(db_session)
    planned = plan_submission(db_session, citizen, _request(), now=NOW)
    meanwhile = submit_change(db_session, citizen, _request(), now=NOW)
    result = write_submission(db_session, citizen, planned)
    assert not result.created and result.duplicate_of is None
    assert result.report.id == meanwhile.report.id


def test_the_same_submission_with_other_answers_made_while_this_one_was_decided_gives_that_report(db_session):
    citizen = make_citizen(db_session)
    planned = plan_submission(db_session, citizen, _request(), now=NOW)
    meanwhile = submit_change(db_session, citizen, _request(answers=address_answers(address_line_1="9 Other Road")),
                              now=NOW)
    result = write_submission(db_session, citizen, planned)
    assert not result.created and result.duplicate_of is None
    assert result.report.id == meanwhile.report.id
    assert db_session.scalar(select(func.count()).select_from(ChangeReport)) == 1


def test_the_same_change_reported_after_the_duplicate_window_is_a_new_report(db_session):
    citizen = make_citizen(db_session)
    first = submit_change(db_session, citizen, _request(), now=NOW)
    later = submit_change(db_session, citizen, _request(submission_key="key-2"), now=NOW + timedelta(days=15))
    assert later.created and later.duplicate_of is None and later.report.id != first.report.id
    again = submit_change(db_session, citizen, _request(submission_key="key-3"), now=NOW + timedelta(days=16))
    assert again.duplicate_of is not None and again.duplicate_of.id == later.report.id


def test_a_report_whose_submission_key_is_taken_writes_nothing(db_session):
    citizen = make_citizen(db_session)
    first = submit_change(
        db_session, citizen,
        _request(change_type="death", answers=death_answers(), recipients=["dwp"], consent={"dwp": "once"}), now=NOW,
    )
    row = {c.name: getattr(first.report, c.name) for c in ChangeReport.__table__.columns}
    person = {c.name: getattr(first.report.subject_person, c.name) for c in PersonDetails.__table__.columns}
    # What a second request with the same key writes when it passed the key check before the first committed.
    assert not insert_report(db_session, row | {"id": uuid.uuid4(), "reference": "TUO-0000-0000"},
                             person=person | {"id": uuid.uuid4()})
    assert db_session.scalar(select(func.count()).select_from(ChangeReport)) == 1
    assert db_session.scalar(select(func.count()).select_from(PersonDetails)) == 1


def test_the_same_submission_sent_twice_at_the_same_moment_gives_one_report(engine):
    if is_sqlite(engine):
        pytest.skip("SQLite has one writer: the second submission reads the key after the first commits")
    try:
        with transaction(engine) as session:
            citizen_id = make_citizen(session).id
        first_written, results = threading.Event(), {}

        def second() -> None:
            with transaction(engine) as session:
                citizen = session.get_one(Citizen, citizen_id)
                planned = plan_submission(session, citizen, _request(), now=NOW)
                first_written.wait(10)  # the first has written its report and not yet committed
                results["second"] = write_submission(session, citizen, planned)
                results["second_id"] = results["second"].report.id

        thread = threading.Thread(target=second)
        thread.start()
        with transaction(engine) as session:
            first = submit_change(session, session.get_one(Citizen, citizen_id), _request(), now=NOW)
            first_written.set()
            time.sleep(0.3)  # the second now waits on the unique key until this commits
        thread.join(10)
        assert first.created and not results["second"].created
        assert results["second_id"] == first.report.id
        with transaction(engine, writer=False) as session:
            assert session.scalar(select(func.count()).select_from(ChangeReport)) == 1
            assert session.scalar(select(func.count()).select_from(Notification)) == 3
    finally:
        clean_database(engine)
