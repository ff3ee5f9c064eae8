"""Correct this report: its answers on the report journey's own pages, what each organisation will be
told, the correction itself, the tracker after it, and who may do it."""

from __future__ import annotations

from account_helpers import post_form
from english_left import english_on_page
from flask import Flask
from flask.testing import FlaskClient
from journey_helpers import (
    _form_state,
    count,
    mark_delivered,
    page_text,
    prefilled,
    report_notifications,
    signed_in,
    submitted_report,
)
from page_checks import check_page, page_title

from tellusonce.db import transaction
from tellusonce.models import ChangeReport, NotificationKind, NotificationState, ReportJourney
from tellusonce.web.language import COOKIE


def _answers(app: Flask, report: ChangeReport) -> dict:  # type: ignore[type-arg]
    with transaction(app.extensions["tellusonce.engine"], writer=False) as session:
        return dict(session.get_one(ChangeReport, report.id).answers)


def _answer(client: FlaskClient, report: ChangeReport, slug: str, answers: dict):  # type: ignore[no-untyped-def,type-arg]
    path = f"/changes/{report.reference}/correct/questions/{slug}"
    token, values = _form_state(client, path)
    return client.post(path, data={**values, **answers, "csrf_token": token})


def _cards(page) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {c.select_one(".govuk-summary-card__title").get_text(strip=True): page_text(c)
            for c in page.select(".govuk-summary-card")}


def _card(cards: dict[str, str], start: str) -> str:
    return next(v for k, v in cards.items() if k.startswith(start))


def test_the_report_page_offers_a_correction_that_starts_from_the_reports_own_answers(
        app: Flask, client: FlaskClient) -> None:
    citizen = signed_in(app, client)
    report = submitted_report(app, citizen)
    tracker = check_page(client.get(f"/changes/{report.reference}"))
    link = tracker.find("a", string="Correct this report")
    assert link is not None and link["href"] == f"/changes/{report.reference}/correct"
    page = check_page(client.get(link["href"]))
    assert page_title(page).startswith(f"Correct report {report.reference}")
    text = page_text(page)
    assert "4 Canal Wharf" in text and "You have not changed any answers yet" in text
    assert page.find("button", string=lambda s: s and "Send correction" in s) is None  # nothing to send yet
    change = page.select_one("#your-answers a[href*='new-address']")
    assert change["href"] == f"/changes/{report.reference}/correct/questions/new-address"
    question = check_page(client.get(change["href"]))
    assert prefilled(client, change["href"])["address_line_1"] == "4 Canal Wharf"
    assert question.find("a", class_="govuk-back-link")["href"] == f"/changes/{report.reference}/correct"
    assert count(app, ReportJourney) == 0  # looking writes nothing; answering a page keeps the answers
    assert _answer(client, report, "new-address", {"address_line_1": "5 Canal Wharf"}).status_code == 302
    assert count(app, ReportJourney) == 1


def test_the_check_page_shows_each_organisation_only_what_it_is_told_old_and_new(
        app: Flask, client: FlaskClient) -> None:
    citizen = signed_in(app, client)
    report = submitted_report(app, citizen)  # DVLA, HMRC, Leeds council tax
    mark_delivered(app, report, "dvla")
    response = _answer(client, report, "previous-address", {"previous_address": "3 Park Row, Leeds",
                                                           "previous_postcode": "LS1 5AB"})
    assert response.status_code == 302 and response.headers["Location"] == f"/changes/{report.reference}/correct"
    response = _answer(client, report, "new-address", {"address_line_1": "5 Canal Wharf"})
    assert response.status_code == 302
    page = check_page(client.get(f"/changes/{report.reference}/correct"))
    cards = _cards(page)
    dvla, hmrc, leeds = (_card(cards, name) for name in ("Driver", "HM Revenue", "Leeds"))
    assert "After it, they will be sent a correction" in dvla
    assert "Address line 1 4 Canal Wharf 5 Canal Wharf" in dvla and "Postcode of your previous" not in dvla
    assert "not been sent your report yet" in hmrc
    assert "Address line 1 4 Canal Wharf 5 Canal Wharf" in hmrc and "LS1 1AA LS1 5AB" in hmrc  # the old postcode
    assert "Park Row" not in hmrc  # but not the previous address itself
    assert "Previous address 12 Hill Street, Leeds 3 Park Row, Leeds" in leeds
    assert _answers(app, report)["address_line_1"] == "4 Canal Wharf"  # looking changes nothing


def test_sending_the_correction_corrects_the_report_and_the_tracker_shows_it_per_organisation(
        app: Flask, client: FlaskClient) -> None:
    citizen = signed_in(app, client)
    report = submitted_report(app, citizen)
    mark_delivered(app, report, "dvla")
    assert _answer(client, report, "new-address", {"address_line_1": "5 Canal Wharf"}).status_code == 302
    response = post_form(client, f"/changes/{report.reference}/correct", {})
    assert response.status_code == 302 and response.headers["Location"] == f"/changes/{report.reference}"
    assert _answers(app, report)["address_line_1"] == "5 Canal Wharf"
    by = {(n.department_id, n.kind, n.state): n for n in report_notifications(app, report)}
    event = by[("dvla", NotificationKind.CORRECTION, NotificationState.PENDING)]
    assert event.payload["address_line_1"] == "5 Canal Wharf"
    replaced = by[("hmrc", NotificationKind.CHANGE, NotificationState.CANCELLED)]
    assert by[("hmrc", NotificationKind.CHANGE, NotificationState.PENDING)].after_id == replaced.id
    page = check_page(client.get(f"/changes/{report.reference}"))
    text = page_text(page)
    assert f"You have corrected report {report.reference}" in text
    cards = _cards(page)
    assert len(page.select(".govuk-summary-card")) == 3  # one card per organisation: not the replaced copy
    assert "Will be sent the correction once they have the report" in _card(cards, "Driver")
    assert "Details corrected Address line 1" in _card(cards, "Driver")
    assert "Corrected before it was sent" in _card(cards, "HM Revenue")
    assert "Waiting to send" in _card(cards, "HM Revenue")
    listed = page_text(check_page(client.get("/changes")))
    assert "Organisations 3" in listed and "Cancelled" not in listed  # the replaced copy is not counted
    # The correction journey is gone: correcting again starts from the corrected answers.
    again = page_text(check_page(client.get(f"/changes/{report.reference}/correct")))
    assert "5 Canal Wharf" in again and "You have not changed any answers yet" in again


def test_an_answer_a_new_report_could_not_have_is_refused_on_its_page(app: Flask, client: FlaskClient) -> None:
    citizen = signed_in(app, client)
    report = submitted_report(app, citizen)
    response = _answer(client, report, "new-address", {"postcode": "not a postcode"})
    page = check_page(response, errors=True)
    assert page.select_one(".govuk-error-summary") is not None and "postcode" in page_text(page).lower()
    assert _answers(app, report)["postcode"] == "LS11 5PS"


def test_an_organisation_nothing_changed_for_is_told_nothing(app: Flask, client: FlaskClient) -> None:
    citizen = signed_in(app, client)
    report = submitted_report(app, citizen)
    mark_delivered(app, report, "dvla", "hmrc", "leeds-council-tax")
    assert _answer(client, report, "household", {"others_moving": "yes"}).status_code == 302  # only Leeds sees it
    cards = _cards(check_page(client.get(f"/changes/{report.reference}/correct")))
    assert "will not be told anything" in _card(cards, "Driver") and "will not be told anything" in _card(cards, "HM")
    assert "will be sent a correction" in _card(cards, "Leeds")
    assert post_form(client, f"/changes/{report.reference}/correct", {}).status_code == 302
    events = [n for n in report_notifications(app, report) if n.kind == NotificationKind.CORRECTION]
    assert [(e.department_id, e.payload["others_moving"]) for e in events] == [("leeds-council-tax", True)]


def test_sending_a_correction_needs_the_forms_csrf_token(app: Flask, client: FlaskClient) -> None:
    citizen = signed_in(app, client)
    report = submitted_report(app, citizen)
    assert _answer(client, report, "new-address", {"address_line_1": "5 Canal Wharf"}).status_code == 302
    assert client.post(f"/changes/{report.reference}/correct", data={}).status_code == 400
    assert client.post(f"/changes/{report.reference}/correct/questions/new-address",
                       data={"address_line_1": "6 Canal Wharf"}).status_code == 400
    assert _answers(app, report)["address_line_1"] == "4 Canal Wharf"
    assert all(n.kind == NotificationKind.CHANGE for n in report_notifications(app, report))


def test_another_citizens_report_is_not_found_and_signed_out_means_signing_in(app: Flask, client: FlaskClient) -> None:
    owner = signed_in(app, client)
    report = submitted_report(app, owner)
    other = app.test_client()
    signed_in(app, other)
    for path in (f"/changes/{report.reference}/correct", f"/changes/{report.reference}/correct/questions/new-address"):
        assert other.get(path).status_code == 404
        assert other.post(path, data={"csrf_token": "x"}).status_code in (400, 404)
        response = app.test_client().get(path)
        assert response.status_code == 302 and "/account/sign-in" in response.headers["Location"]
    assert _answers(app, report)["address_line_1"] == "4 Canal Wharf"


def test_a_cancelled_report_cannot_be_corrected(app: Flask, client: FlaskClient) -> None:
    citizen = signed_in(app, client)
    report = submitted_report(app, citizen)
    assert _answer(client, report, "new-address", {"address_line_1": "5 Canal Wharf"}).status_code == 302
    token_page = client.get(f"/changes/{report.reference}/correct").get_data(as_text=True)
    assert post_form(client, f"/changes/{report.reference}/cancel", {}).status_code == 302
    tracker = check_page(client.get(f"/changes/{report.reference}"))
    assert tracker.find("a", string="Correct this report") is None
    page = check_page(client.get(f"/changes/{report.reference}/correct"))
    assert page_title(page).startswith(f"Report {report.reference} cannot be corrected")
    assert "You cancelled it" in page_text(page)
    # The check page left open in another tab, sent after cancelling: nothing is written.
    from bs4 import BeautifulSoup

    token = BeautifulSoup(token_page, "html.parser").find("input", attrs={"name": "csrf_token"})["value"]
    late = client.post(f"/changes/{report.reference}/correct", data={"csrf_token": token})
    assert late.status_code == 200 and "cannot be corrected" in late.get_data(as_text=True)
    assert _answers(app, report)["address_line_1"] == "4 Canal Wharf"
    assert not any(n.kind == NotificationKind.CORRECTION for n in report_notifications(app, report))


def test_the_correction_pages_and_the_tracker_after_it_are_in_welsh(app: Flask, client: FlaskClient) -> None:
    citizen = signed_in(app, client)
    report = submitted_report(app, citizen)
    mark_delivered(app, report, "dvla")
    client.set_cookie(COOKIE, "cy", domain="localhost")
    check_path = f"/changes/{report.reference}/correct"
    for path in (check_path, f"{check_path}/questions/new-address"):
        html = client.get(path).get_data(as_text=True)
        assert '<html lang="cy"' in html and not english_on_page(html), (path, english_on_page(html))
    assert _answer(client, report, "new-address", {"address_line_1": "5 Canal Wharf"}).status_code == 302
    html = client.get(check_path).get_data(as_text=True)
    assert not english_on_page(html), english_on_page(html)
    assert post_form(client, check_path, {}).status_code == 302
    html = client.get(f"/changes/{report.reference}").get_data(as_text=True)
    assert not english_on_page(html), english_on_page(html)
    assert post_form(client, f"/changes/{report.reference}/cancel", {}).status_code == 302
    html = client.get(check_path).get_data(as_text=True)
    assert not english_on_page(html), english_on_page(html)
