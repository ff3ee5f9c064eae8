"""The notice sweep: the citizen is emailed once every organisation has a report, or one could not be told.

Outcomes come through the real paths: a worker delivering to a department server on 127.0.0.1
(200, or 422 for a dead letter), the email channel, the department API's acknowledgement, a consent
withdrawn. The sweep runs on the project clock, moved past the quiet period.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import replace
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import Engine, select

from tellusonce.application.consent import withdraw_consent
from tellusonce.application.intake import ChangeRequest, submit_change
from tellusonce.application.report_notices import note_outcomes
from tellusonce.clock import utcnow
from tellusonce.data.apikeys import create_api_key
from tellusonce.db import transaction
from tellusonce.domain.notices import NoticeKind
from tellusonce.mailout.render import render_email, translate_subject
from tellusonce.models import Citizen, ConsentGrant, Notification, OutgoingEmail
from tellusonce.settings import Settings
from tellusonce_services.dispatch.notices import PURPOSE, SUBJECTS, send_due_notices
from tests.dispatch_helpers import BackgroundWorker, DepartmentServer, dispatch_once, point_at, wait_for
from tests.english_left import english_in_email, english_on_page
from tests.factories import address_answers, make_citizen

QUIET = timedelta(minutes=5)
PAST_QUIET = QUIET + timedelta(seconds=30)
NAMES = {"dvla": "Driver and Vehicle Licensing Agency (DVLA)", "hmrc": "HM Revenue and Customs (HMRC)",
         "dwp": "Department for Work and Pensions (DWP)", "tv-licensing": "TV Licensing"}


def _report(engine: Engine, recipients: tuple[str, ...], **citizen: object) -> str:
    """One citizen's move, told to ``recipients`` with one-off consent; its reference."""
    with transaction(engine) as session:
        person = make_citizen(session, **citizen)
        result = submit_change(session, person, ChangeRequest(
            change_type="address", answers=address_answers(), recipients=list(recipients),
            consent={d: "once" for d in recipients}, channel="web", submission_key=uuid.uuid4().hex,
        ), now=utcnow())
        return result.report.reference


def _deliver(engine: Engine, settings: Settings) -> None:
    dispatch_once(engine, settings, now=utcnow())


def _ack(app: Flask, department: str, reference: str | None = None) -> None:
    """The department acknowledges, through the API, every notification of its it has been sent."""
    engine = app.extensions["tellusonce.engine"]
    with transaction(engine) as session:
        key = create_api_key(session, department_id=department, now=utcnow()).plaintext
        ids = session.scalars(select(Notification.id).where(Notification.department_id == department,
                                                            Notification.state == "delivered")).all()
    client = app.test_client()
    for notification_id in ids:
        response = client.post(f"/api/v1/notifications/{notification_id}/ack", headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 200, response.get_json()


def _sweep(engine: Engine, settings: Settings) -> int:
    with transaction(engine) as session:
        return send_due_notices(session, settings=settings, now=utcnow())


def _notices(engine: Engine) -> list[OutgoingEmail]:
    with transaction(engine, writer=False) as session:
        emails = list(session.scalars(select(OutgoingEmail).where(OutgoingEmail.purpose == PURPOSE)
                                      .order_by(OutgoingEmail.created_at)))
        session.expunge_all()
    return emails


def _names(email: OutgoingEmail, key: str) -> list[str]:
    return [o["name"] for o in (email.context or {})[key]]


@pytest.fixture
def departments(committed: Engine, department_server: DepartmentServer) -> DepartmentServer:
    point_at(committed, department_server)
    return department_server


def test_every_organisation_received_is_one_email_listing_each(app: Flask, committed: Engine, settings: Settings,
                                                               departments: DepartmentServer, clock) -> None:
    reference = _report(committed, ("dvla", "tv-licensing"))
    _deliver(committed, settings)  # DVLA answers 200; TV Licensing's email is its delivery
    assert _sweep(committed, settings) == 0  # DVLA has not said it has it
    clock.advance(timedelta(minutes=2))
    _ack(app, "dvla")
    clock.advance(QUIET - timedelta(seconds=30))
    assert _sweep(committed, settings) == 0  # not yet quiet since the acknowledgement
    clock.advance(timedelta(minutes=1))
    assert _sweep(committed, settings) == 1
    [email] = _notices(committed)
    assert email.template == "report_received" and email.context["kind"] == "all_received"
    assert _names(email, "received") == [NAMES["dvla"], NAMES["tv-licensing"]]
    assert email.subject == f"Every organisation has your change {reference}"
    assert email.context["link"] == f"{settings.base_url}/changes/{reference}"
    text, html = render_email(email.template, email.context, language="en")
    assert "You do not need to do anything else." in text and NAMES["tv-licensing"] in (html or "")
    clock.advance(timedelta(hours=1))
    _ack(app, "dvla")  # a repeated acknowledgement is not news
    clock.advance(PAST_QUIET)
    assert _sweep(committed, settings) == 0
    assert len(_notices(committed)) == 1


def test_a_dead_letter_with_the_rest_received_in_the_window_is_one_email_about_it(
        app: Flask, committed: Engine, settings: Settings, departments: DepartmentServer, clock) -> None:
    departments.behave("hmrc", 422)  # refused for good: dead at once
    _report(committed, ("dvla", "hmrc", "tv-licensing"))
    _deliver(committed, settings)
    clock.advance(timedelta(minutes=3))
    _ack(app, "dvla")
    clock.advance(PAST_QUIET)
    assert _sweep(committed, settings) == 1
    [email] = _notices(committed)
    assert email.template == "report_not_sent"
    assert _names(email, "failed") == [NAMES["hmrc"]]
    assert email.context["failed"][0]["contact_url"] == "https://www.gov.uk/contact-hmrc"
    assert _names(email, "received") == [NAMES["dvla"], NAMES["tv-licensing"]]
    assert email.context["waiting"] == []
    text, _ = render_email(email.template, email.context, language="en")
    assert "How to contact HM Revenue and Customs (HMRC): https://www.gov.uk/contact-hmrc" in text
    assert "We will email you again" not in text
    clock.advance(timedelta(hours=2))
    assert _sweep(committed, settings) == 0  # everything is told: no all-received email after it
    assert len(_notices(committed)) == 1


def test_when_the_rest_arrive_after_a_failure_the_citizen_hears_the_others_have_it(
        app: Flask, committed: Engine, settings: Settings, departments: DepartmentServer, clock) -> None:
    departments.behave("hmrc", 422)
    _report(committed, ("dvla", "hmrc"))
    _deliver(committed, settings)
    clock.advance(PAST_QUIET)
    assert _sweep(committed, settings) == 1
    clock.advance(timedelta(minutes=20))
    _ack(app, "dvla")
    clock.advance(PAST_QUIET)
    assert _sweep(committed, settings) == 1
    failure, others = _notices(committed)
    assert _names(failure, "waiting") == [NAMES["dvla"]]
    assert "We will email you again when they have it." in render_email(failure.template, failure.context)[0]
    assert others.template == "report_received" and others.context["kind"] == "others_received"
    assert _names(others, "received") == [NAMES["dvla"]] and _names(others, "failed_before") == [NAMES["hmrc"]]


def test_outcomes_further_apart_than_the_window_are_separate_emails_each_told_once(
        app: Flask, committed: Engine, settings: Settings, departments: DepartmentServer, clock) -> None:
    departments.behave("hmrc", 422)
    departments.behave("dwp", 503)  # tried again later
    _report(committed, ("hmrc", "dwp", "tv-licensing"))
    _deliver(committed, settings)
    clock.advance(PAST_QUIET)
    assert _sweep(committed, settings) == 1
    clock.advance(timedelta(minutes=30))
    departments.behave("dwp", 422)
    _deliver(committed, settings)  # DWP's retry is due: refused for good this time
    assert _sweep(committed, settings) == 0
    clock.advance(PAST_QUIET)
    assert _sweep(committed, settings) == 1
    clock.advance(timedelta(hours=1))
    assert _sweep(committed, settings) == 0
    first, second = _notices(committed)
    assert _names(first, "failed") == [NAMES["hmrc"]] and _names(first, "waiting") == [NAMES["dwp"]]
    assert _names(second, "failed") == [NAMES["dwp"]] and _names(second, "failed_before") == [NAMES["hmrc"]]
    assert _names(second, "received") == [NAMES["tv-licensing"]]


def test_a_busy_report_is_still_told_within_six_quiet_periods_of_its_first_outcome(
        committed: Engine, settings: Settings, departments: DepartmentServer, clock) -> None:
    departments.behave("hmrc", 422)
    _report(committed, ("hmrc", "dvla"))
    _deliver(committed, settings)
    with transaction(committed) as session:
        other_id = session.scalars(select(Notification.id).where(Notification.department_id == "dvla")).one()
    minutes = 0
    while not _sweep(committed, settings) and minutes < 60:  # an outcome every four minutes: never quiet for five
        clock.advance(timedelta(minutes=4))
        minutes += 4
        with transaction(committed) as session:
            note_outcomes(session, [(other_id, "acknowledged", "webhook")], now=utcnow())
    assert minutes == 32  # the first after six quiet periods (30 minutes) from the first outcome
    assert len(_notices(committed)) == 1


def test_two_sweeps_at_once_send_one_email_per_report(committed: Engine, settings: Settings, clock) -> None:
    references = [_report(committed, ("tv-licensing",)) for _ in range(12)]
    _deliver(committed, settings)
    clock.advance(PAST_QUIET)
    start = threading.Barrier(2)
    sent: list[int] = []
    errors: list[BaseException] = []

    def sweep() -> None:
        try:
            start.wait(10)
            sent.append(_sweep(committed, settings))
        except BaseException as e:  # noqa: BLE001 - handed to the test thread
            errors.append(e)

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    assert sum(sent) == len(references)
    emails = _notices(committed)
    assert sorted(e.context["reference"] for e in emails) == sorted(references)


def test_a_citizen_who_turned_the_emails_off_gets_none_and_no_old_news_when_back_on(
        committed: Engine, settings: Settings, departments: DepartmentServer, clock) -> None:
    departments.behave("hmrc", 422)
    reference = _report(committed, ("hmrc", "tv-licensing"), report_emails=False)
    _deliver(committed, settings)
    clock.advance(PAST_QUIET)
    assert _sweep(committed, settings) == 0
    with transaction(committed) as session:
        citizen = session.scalars(select(Notification.citizen_id)).first()
        session.get_one(Citizen, citizen).report_emails = True
    clock.advance(PAST_QUIET)
    assert _sweep(committed, settings) == 0
    assert _notices(committed) == [], reference


def test_consent_withdrawn_for_the_last_organisation_waiting_leaves_the_rest_all_received(
        app: Flask, committed: Engine, settings: Settings, departments: DepartmentServer, clock) -> None:
    departments.behave("hmrc", 503)
    _report(committed, ("dvla", "hmrc"))
    _deliver(committed, settings)
    _ack(app, "dvla")
    clock.advance(PAST_QUIET)
    assert _sweep(committed, settings) == 0  # HMRC is still being tried
    with transaction(committed) as session:
        grant = session.scalars(select(ConsentGrant).where(ConsentGrant.department_id == "hmrc")).one()
        withdraw_consent(session, citizen_id=grant.citizen_id, grant_id=grant.id, now=utcnow())
    clock.advance(PAST_QUIET)
    assert _sweep(committed, settings) == 1
    [email] = _notices(committed)
    assert email.context["kind"] == "all_received" and _names(email, "received") == [NAMES["dvla"]]


def test_a_welsh_account_gets_its_email_in_welsh(app: Flask, committed: Engine, settings: Settings,
                                                 departments: DepartmentServer, clock) -> None:
    departments.behave("hmrc", 422)
    reference = _report(committed, ("hmrc", "tv-licensing", "dvla"), language="cy")
    _deliver(committed, settings)
    clock.advance(PAST_QUIET)
    _sweep(committed, settings)
    _ack(app, "dvla")
    clock.advance(PAST_QUIET)
    _sweep(committed, settings)
    failure, others = _notices(committed)
    assert _names(failure, "failed") == ["Cyllid a Thollau EF (CThEF)"]
    assert "Trwyddedu Teledu" in _names(failure, "received")
    problems = []
    for email in (failure, others):
        assert email.language == "cy"
        kind = NoticeKind(email.context["kind"])
        assert email.subject != translate_subject(SUBJECTS[kind], email.context, language="en")
        assert reference in email.subject
        text, html = render_email(email.template, email.context, language="cy")
        problems += english_in_email(email.subject) + english_in_email(text) + english_on_page(html or "")
    assert not problems


def test_a_running_worker_sends_the_email_once_the_report_is_quiet(
        app: Flask, committed: Engine, settings: Settings, departments: DepartmentServer) -> None:
    _report(committed, ("tv-licensing",))
    quick = replace(settings, report_notice_quiet_minutes=0.0)
    with BackgroundWorker(committed, quick, notice_sweep_interval=0.1):
        wait_for(lambda: len(_notices(committed)) == 1, timeout=30)
    [email] = _notices(committed)
    assert email.context["kind"] == "all_received"
