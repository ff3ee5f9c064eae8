"""Planning ahead on the web (tellusonce/web/report_timing.py): for a move reported before its date
the check page asks when to tell each organisation, each is told now or on the date, and the tracker
says when. The clock is the tests' own: today is 22 November 2026."""

from __future__ import annotations

from datetime import UTC, date, datetime

from account_helpers import post_form
from english_left import english_on_page
from flask import Flask
from flask.testing import FlaskClient
from journey_helpers import date_parts, report_a_move, signed_in
from page_checks import check_page
from sqlalchemy import select

from tellusonce.db import transaction
from tellusonce.models import ChangeReport, Notification

MOVE = date(2027, 2, 15)  # within three months of 22 November 2026


def _notifications(app: Flask) -> dict[str, Notification]:
    with transaction(app.extensions["tellusonce.engine"], writer=False) as session:
        found = {n.department_id: n for n in session.scalars(select(Notification))}
        session.expunge_all()
    return found


def _reference(app: Flask) -> str:
    with transaction(app.extensions["tellusonce.engine"], writer=False) as session:
        return session.scalars(select(ChangeReport.reference)).one()


def _radios(page) -> dict[str, dict[str, str]]:  # type: ignore[no-untyped-def]
    """Question name -> {value: label}, and which one is chosen (under "chosen")."""
    found: dict[str, dict[str, str]] = {}
    for radio in page.select("input[type=radio][name^=when-]"):
        label = page.select_one(f"label[for={radio['id']}]").get_text(" ", strip=True)
        found.setdefault(radio["name"], {})[radio["value"]] = label
        if radio.has_attr("checked"):
            found[radio["name"]]["chosen"] = radio["value"]
    return found


def test_the_check_page_asks_when_to_tell_each_organisation_that_could_be_told_on_the_date(
        app: Flask, client: FlaskClient) -> None:
    signed_in(app, client)
    report_a_move(client, recipients=("dvla", "leeds-council-tax", "meadow-lane-surgery"), submit=False,
                  move_date={"move_date": date_parts(MOVE)})
    page = check_page(client.get("/report/check"))
    radios = _radios(page)
    # The surgery pulls a feed, so it is told at once: no question.
    assert sorted(radios) == ["when-dvla", "when-leeds-council-tax"]
    assert radios["when-dvla"] == {"now": "Tell them now", "on_date": "Tell them on 15 February 2027", "chosen": "on_date"}
    # The council asks the registry for 14 days' notice.
    assert radios["when-leeds-council-tax"]["on_date"] == "Tell them on 1 February 2027"
    assert "They ask to be told 14 days before the date." in page.get_text(" ", strip=True)


def test_a_move_today_is_told_now_with_nothing_to_ask(app: Flask, client: FlaskClient) -> None:
    signed_in(app, client)
    report_a_move(client, submit=False)
    page = check_page(client.get("/report/check"))
    assert _radios(page) == {} and page.select_one("#when-told") is None


def test_each_organisation_is_queued_for_when_the_citizen_chose_and_the_tracker_says_when(
        app: Flask, client: FlaskClient) -> None:
    signed_in(app, client)
    report_a_move(client, recipients=("dvla", "hmrc", "leeds-council-tax"), submit=False,
                  move_date={"move_date": date_parts(MOVE)})
    response = post_form(client, "/report/check", {"when-hmrc": "now"})  # the others as chosen already: on the date
    assert response.status_code == 303
    confirmation = check_page(client.get(response.location)).get_text(" ", strip=True)
    assert "On 15 February 2027, as you asked:" in confirmation and "On 1 February 2027, as you asked:" in confirmation
    queued = _notifications(app)
    assert queued["dvla"].planned_for == queued["dvla"].next_attempt_at == datetime(2027, 2, 15, tzinfo=UTC)
    assert queued["leeds-council-tax"].planned_for == datetime(2027, 2, 1, tzinfo=UTC)
    assert queued["hmrc"].planned_for is None and queued["hmrc"].next_attempt_at <= queued["hmrc"].created_at
    page = check_page(client.get(f"/changes/{_reference(app)}"))
    cards = {card.select_one(".govuk-summary-card__title").get_text(strip=True): card.get_text(" ", strip=True)
             for card in page.select(".govuk-summary-card")}
    assert "Will be sent on 15 February 2027, as you asked." in cards["Driver and Vehicle Licensing Agency (DVLA)"]
    assert "Will be sent later" in cards["Driver and Vehicle Licensing Agency (DVLA)"]
    assert "Will be sent on 1 February 2027" in cards["Leeds City Council – Council Tax"]
    assert "Will be sent on" not in cards["HM Revenue and Customs (HMRC)"]
    assert "Until then you can cancel this report" in cards["Leeds City Council – Council Tax"]


def test_the_check_page_asks_in_welsh(app: Flask, client: FlaskClient) -> None:
    signed_in(app, client, language="cy")
    report_a_move(client, recipients=("dvla", "leeds-council-tax"), submit=False, move_date={"move_date": date_parts(MOVE)})
    html = client.get("/report/check").get_data(as_text=True)
    assert "15 Chwefror 2027" in html
    assert english_on_page(html) == []


def test_an_answer_that_is_neither_now_nor_on_the_date_is_asked_again(app: Flask, client: FlaskClient) -> None:
    signed_in(app, client)
    report_a_move(client, recipients=("dvla",), submit=False, move_date={"move_date": date_parts(MOVE)})
    page = check_page(post_form(client, "/report/check", {"when-dvla": "yesterday"}), errors=True)
    summary = page.select_one(".govuk-error-summary")
    assert "Select when Driver and Vehicle Licensing Agency (DVLA) should be told" in summary.get_text(" ", strip=True)
    assert summary.select_one("a")["href"] == f"#{page.select_one('input[name=when-dvla]')['id']}"
    assert _notifications(app) == {}
