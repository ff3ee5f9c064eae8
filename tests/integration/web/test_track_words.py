"""The tracker says what is true: which details will be, were or were not sent, to whom, about whom,
and what a citizen can do when a change could not be sent."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from journey_helpers import signed_in, submitted_report
from page_checks import check_page
from sqlalchemy import update

from tellusonce.application.intake import ChangeRequest, submit_change
from tellusonce.clock import utcnow
from tellusonce.db import transaction
from tellusonce.models import ChangeReport, Citizen, Notification
from tests.factories import death_answers

MEADOW_LANE = "Meadow Lane Surgery (NHS GP practice)"


def _set_states(app: Flask, report: ChangeReport, states: dict[str, str]) -> None:
    now = utcnow()
    with transaction(app.extensions["tellusonce.engine"]) as session:
        for department_id, state in states.items():
            extra: dict[str, Any] = {"delivered_at": now} if state in ("delivered", "acknowledged") else {}
            extra |= {"dead_at": now, "attempt_count": 12} if state == "dead" else {}
            extra |= {"cancelled_at": now} if state == "cancelled" else {}
            session.execute(update(Notification).where(Notification.report_id == report.id,
                                                       Notification.department_id == department_id)
                            .values(state=state, **extra))


def _cards(page) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return {c.select_one(".govuk-summary-card__title").get_text(strip=True): c for c in page.select(".govuk-summary-card")}


def _keys(card) -> list[str]:  # type: ignore[no-untyped-def]
    return [k.get_text(strip=True) for k in card.select(".govuk-summary-list__key")]


def _report_of(app: Flask, citizen: Citizen, change_type: str, answers: dict[str, Any], recipients: list[str]) -> ChangeReport:
    with transaction(app.extensions["tellusonce.engine"]) as session:
        me = session.get_one(Citizen, citizen.id)
        result = submit_change(session, me, ChangeRequest(
            change_type=change_type, answers=answers, recipients=recipients,
            consent={d: "once" for d in recipients}, channel="web", submission_key=uuid.uuid4().hex,
        ), now=utcnow())
        session.flush()
        session.expunge_all()
    return result.report


def test_details_are_labelled_by_what_happened_to_them(app: Flask, client: FlaskClient) -> None:
    citizen = signed_in(app, client)
    report = submitted_report(app, citizen, recipients=["dvla", "hmrc", "dwp", "tv-licensing", "meadow-lane-surgery"])
    _set_states(app, report, {"hmrc": "delivered", "dwp": "dead", "tv-licensing": "cancelled"})
    cards = _cards(check_page(client.get(f"/changes/{report.reference}")))
    assert "Details that will be sent" in _keys(cards["Driver and Vehicle Licensing Agency (DVLA)"])
    assert "Details sent" in _keys(cards["HM Revenue and Customs (HMRC)"])
    assert "Details that were not sent" in _keys(cards["Department for Work and Pensions (DWP)"])
    assert "Details that were not sent" in _keys(cards["TV Licensing"])
    assert f"Details that will be available to {MEADOW_LANE}" in _keys(cards[MEADOW_LANE])
    for name in ("Driver and Vehicle Licensing Agency (DVLA)", "Department for Work and Pensions (DWP)", "TV Licensing",
                 MEADOW_LANE):
        assert "Details sent" not in _keys(cards[name]), name


def test_a_feed_organisation_that_has_fetched_its_notification_was_sent_the_details(app: Flask, client: FlaskClient) -> None:
    citizen = signed_in(app, client)
    report = submitted_report(app, citizen, recipients=["meadow-lane-surgery"])
    _set_states(app, report, {"meadow-lane-surgery": "delivered"})
    assert "Details sent" in _keys(_cards(check_page(client.get(f"/changes/{report.reference}")))[MEADOW_LANE])


def test_a_change_that_could_not_be_sent_says_what_is_true_and_what_you_can_do(app: Flask, client: FlaskClient) -> None:
    citizen = signed_in(app, client)
    report = submitted_report(app, citizen, recipients=["dwp"])
    _set_states(app, report, {"dwp": "dead"})
    card = _cards(check_page(client.get(f"/changes/{report.reference}")))["Department for Work and Pensions (DWP)"]
    text = card.get_text(" ", strip=True)
    assert "alerted" not in text
    assert "we have stopped trying" in text
    assert "can send it again, but this does not happen by itself" in text
    assert report.reference in text
    contact = card.find("a", string="contact Department for Work and Pensions (DWP)")
    assert contact["href"] == "https://www.gov.uk/government/organisations/department-for-work-pensions/about/contact"


def test_who_has_been_told_says_whose_details_were_sent(app: Flask, client: FlaskClient) -> None:
    citizen = signed_in(app, client)
    move = submitted_report(app, citizen, recipients=["dvla"])
    death = _report_of(app, citizen, "death", {**death_answers(), "reporter_given_names": "Ada",
                                               "reporter_family_name": "Lovelace"}, ["dwp"])
    birth = _report_of(app, citizen, "birth", {
        "child_given_names": "Ngozi", "child_family_name": "Lovelace", "child_date_of_birth": "2026-11-01",
        "parent_1_given_names": "Ada", "parent_1_family_name": "Lovelace", "address_line_1": "12 Hill Street",
        "town": "Leeds", "postcode": "LS1 1AA", "reporter_given_names": "Ada", "reporter_family_name": "Lovelace",
        "reporter_relationship": "mother", "authority_declared": True,
    }, ["hmrc"])
    for report, department in ((move, "dvla"), (death, "dwp"), (birth, "hmrc")):
        _set_states(app, report, {department: "delivered"})
    page = check_page(client.get("/who-has-been-told"))
    assert "details about you" not in page.get_text()
    about = {}
    for card in page.select(".govuk-summary-card"):
        rows = {r.select_one(".govuk-summary-list__key").get_text(strip=True):
                r.select_one(".govuk-summary-list__value").get_text(" ", strip=True)
                for r in card.select(".govuk-summary-list__row")}
        about[card.select_one(".govuk-summary-card__title").get_text(strip=True)] = rows["About"]
    assert about == {
        "Driver and Vehicle Licensing Agency (DVLA)": "You",
        "Department for Work and Pensions (DWP)": "Grace Okafor, who died",
        "HM Revenue and Customs (HMRC)": "Ngozi Lovelace, the child whose birth you reported",
    }
    death_page = check_page(client.get(f"/changes/{death.reference}")).get_text(" ", strip=True)
    assert "about Grace Okafor, who died" in death_page
    assert "sent about you" not in death_page
