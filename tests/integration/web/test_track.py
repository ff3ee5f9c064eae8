"""Your changes, a report's delivery ledger, and who has been told what (pages and downloads)."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta

from account_helpers import post_form
from english_left import english_on_page
from flask import Flask
from flask.testing import FlaskClient
from journey_helpers import date_parts, report_a_move, signed_in, submitted_report
from page_checks import check_page, page_title
from sqlalchemy import select, update

from tellusonce.clock import utcnow
from tellusonce.db import transaction
from tellusonce.models import ChangeReport, Notification, NotificationState


def _set_states(app: Flask, report: ChangeReport, states: dict[str, str]) -> None:
    now = utcnow()
    times = {
        NotificationState.DELIVERED: {"delivered_at": now},
        NotificationState.ACKNOWLEDGED: {"delivered_at": now - timedelta(minutes=2), "acknowledged_at": now},
        NotificationState.DEAD: {"dead_at": now, "attempt_count": 12},
        NotificationState.RETRYING: {"next_attempt_at": now + timedelta(minutes=5), "attempt_count": 2},
        NotificationState.CANCELLED: {"cancelled_at": now},
    }
    with transaction(app.extensions["tellusonce.engine"]) as session:
        for department_id, state in states.items():
            session.execute(
                update(Notification)
                .where(Notification.report_id == report.id, Notification.department_id == department_id)
                .values(state=state, **times.get(state, {}))
            )


def _cards(page) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    """Each summary card: its title and its rows (key -> value)."""
    return [
        {"title": card.select_one(".govuk-summary-card__title").get_text(strip=True),
         **{r.select_one(".govuk-summary-list__key").get_text(strip=True):
            r.select_one(".govuk-summary-list__value").get_text(" ", strip=True)
            for r in card.select(".govuk-summary-list__row")}}
        for card in page.select(".govuk-summary-card")
    ]


def _references(page) -> list[str]:  # type: ignore[no-untyped-def]
    return [a.get_text() for a in page.select(".govuk-summary-card__title a")]


def test_your_changes_lists_every_report_with_its_reference_and_date_newest_first(app: Flask, client: FlaskClient) -> None:
    citizen = signed_in(app, client)
    older = submitted_report(app, citizen, line="1 Old Road", at=utcnow() - timedelta(days=3))
    newer = submitted_report(app, citizen, line="2 New Road")
    page = check_page(client.get("/changes"))
    assert page_title(page).startswith("Your changes")
    cards = _cards(page)
    assert [c["title"] for c in cards] == [newer.reference, older.reference]
    assert cards[0]["Change"] == "Moving home" and cards[0]["Organisations"] == "3"
    assert "3 waiting to send" in cards[0]["Where they are"]


def test_your_changes_is_paginated(app: Flask, client: FlaskClient) -> None:
    citizen = signed_in(app, client)
    references = [submitted_report(app, citizen, recipients=["dvla"], line=f"{i} Long Lane",
                                   at=utcnow() - timedelta(minutes=i)).reference for i in range(30)]
    first = check_page(client.get("/changes"))
    assert _references(first) == references[:25]
    assert first.select_one(".govuk-pagination__next a")["href"] == "/changes?page=2"
    second = check_page(client.get("/changes?page=2"))
    assert _references(second) == references[25:]
    # A page past the end shows the last page; nonsense shows the first.
    assert _references(check_page(client.get("/changes?page=99")))[0] == references[25]
    assert _references(check_page(client.get("/changes?page=x")))[0] == references[0]


def test_a_report_shows_each_organisation_in_plain_words_with_times(app: Flask, client: FlaskClient) -> None:
    citizen = signed_in(app, client)
    report = submitted_report(app, citizen, recipients=["dvla", "hmrc", "dwp", "leeds-council-tax", "tv-licensing"])
    _set_states(app, report, {"hmrc": "acknowledged", "dwp": "retrying", "leeds-council-tax": "dead",
                              "tv-licensing": "cancelled"})
    page = check_page(client.get(f"/changes/{report.reference}"))
    cards = {c.select_one("h3").get_text(strip=True): c for c in page.select(".govuk-summary-card")}
    states = {name: card.select_one(".govuk-tag").get_text(strip=True) for name, card in cards.items()}
    assert states == {
        "Driver and Vehicle Licensing Agency (DVLA)": "Waiting to send",
        "HM Revenue and Customs (HMRC)": "Received by the organisation",
        "Department for Work and Pensions (DWP)": "Trying again",
        "Leeds City Council – Council Tax": "Could not be sent",
        "TV Licensing": "Cancelled",
    }
    hmrc = cards["HM Revenue and Customs (HMRC)"].get_text(" ", strip=True)
    assert "Sent" in hmrc and "Received by the organisation" in hmrc and "National Insurance number" in hmrc
    assert "Next try" in cards["Department for Work and Pensions (DWP)"].get_text()
    assert "withdrew your consent" in cards["TV Licensing"].get_text()


def test_a_report_page_updates_itself_only_when_asked_and_only_until_settled(app: Flask, client: FlaskClient) -> None:
    citizen = signed_in(app, client)
    report = submitted_report(app, citizen, recipients=["dvla"])
    path = f"/changes/{report.reference}"
    plain = client.get(path)
    assert "Refresh" not in plain.headers
    page = check_page(plain)
    assert page.find("a", string="Check again")["href"] == path
    assert page.find("meta", attrs={"http-equiv": "refresh"}) is None
    auto = client.get(path + "?auto=1")
    assert auto.headers["Refresh"] == "15"
    assert check_page(auto).find("a", string="Stop updating this page")["href"] == path
    _set_states(app, report, {"dvla": "acknowledged"})
    settled = client.get(path + "?auto=1")
    assert "Refresh" not in settled.headers and "Check again" not in settled.get_data(as_text=True)


def test_another_citizens_report_is_not_found(app: Flask, client: FlaskClient) -> None:
    owner = app.test_client()
    report = submitted_report(app, signed_in(app, owner))
    signed_in(app, client)
    assert client.get(f"/changes/{report.reference}").status_code == 404
    assert owner.get(f"/changes/{report.reference.lower()}").status_code == 200


def test_who_has_been_told_lists_only_what_reached_an_organisation(app: Flask, client: FlaskClient) -> None:
    citizen = signed_in(app, client)
    report = submitted_report(app, citizen)
    _set_states(app, report, {"dvla": "delivered", "hmrc": "acknowledged"})
    page = check_page(client.get("/who-has-been-told"))
    cards = _cards(page)
    assert sorted(c["title"] for c in cards) == ["Driver and Vehicle Licensing Agency (DVLA)", "HM Revenue and Customs (HMRC)"]
    assert all(c["Change"] == f"{report.reference} , moving home" for c in cards)
    hmrc = next(c for c in cards if c["title"].startswith("HM Revenue"))
    assert "National Insurance number" in hmrc["Details"] and hmrc["Where it is"] == "Received by the organisation"


def test_disclosures_download_as_json_and_csv_with_what_was_sent(app: Flask, client: FlaskClient) -> None:
    citizen = signed_in(app, client)
    report = submitted_report(app, citizen, recipients=["dvla"], line="=HYPERLINK(\"http://evil\")")
    _set_states(app, report, {"dvla": "delivered"})
    response = client.get("/who-has-been-told.json")
    assert response.mimetype == "application/json"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="who-has-been-told-')
    [item] = json.loads(response.get_data(as_text=True))["disclosures"]
    assert item["organisation"] == {"id": "dvla", "name": "Driver and Vehicle Licensing Agency (DVLA)"}
    assert item["reference"] == report.reference and item["sent_at"] and item["received_at"] is None
    assert item["details"]["postcode"] == "LS11 5PS" and "ni_number" not in item["details"]
    with transaction(app.extensions["tellusonce.engine"], writer=False) as session:
        receipt = session.scalars(select(Notification.consent_receipt_id)).one()
    assert item["consent_receipt_id"] == str(receipt)

    response = client.get("/who-has-been-told.csv")
    assert response.mimetype == "text/csv"
    rows = _csv_rows(response)
    assert {r["Detail"] for r in rows} == {"Given names", "Family name", "Date of birth", "Address line 1",
                                            "Town or city", "Postcode", "Date you moved"}
    line = next(r for r in rows if r["Detail"] == "Address line 1")
    assert line["Value"] == "'=HYPERLINK(\"http://evil\")"  # never run as a formula
    assert {r["Organisation"] for r in rows} == {"Driver and Vehicle Licensing Agency (DVLA)"}


def _csv_rows(response) -> list[dict[str, str]]:
    """The download read back as a spreadsheet reads it: UTF-8 after its byte-order mark."""
    return list(csv.DictReader(io.StringIO(response.get_data().decode("utf-8-sig"), newline="")))


def test_the_csv_opens_in_a_spreadsheet_with_names_intact_and_changes_in_words(app: Flask, client: FlaskClient) -> None:
    citizen = signed_in(app, client, given_names="Siân", family_name="Ó Súilleabháin")
    report = submitted_report(app, citizen, recipients=["dvla"])
    _set_states(app, report, {"dvla": "delivered"})
    response = client.get("/who-has-been-told.csv")
    assert response.get_data().startswith("\ufeff".encode())  # how Excel knows the file is UTF-8
    rows = _csv_rows(response)
    assert list(rows[0]) == ["Date sent", "Organisation", "Reference", "Change", "Detail", "Value",
                             "Date received", "Consent receipt"]
    assert {r["Change"] for r in rows} == {"Moving home"}
    values = {r["Detail"]: r["Value"] for r in rows}
    assert values["Given names"] == "Siân" and values["Family name"] == "Ó Súilleabháin"


def test_no_cell_of_the_csv_can_run_as_a_formula(app: Flask, client: FlaskClient) -> None:
    citizen = signed_in(app, client)
    lines = {"@SUM(1+1)": "'@SUM(1+1)", "+44 113": "'+44 113", "-2+3": "'-2+3",
             "＝HYPERLINK(\"http://evil\")": "'＝HYPERLINK(\"http://evil\")",  # its full-width form, too
             "2 Hill Street": "2 Hill Street"}
    references = {}
    for line in lines:
        report = submitted_report(app, citizen, recipients=["dvla"], line=line)
        _set_states(app, report, {"dvla": "delivered"})
        references[report.reference] = line
    rows = _csv_rows(client.get("/who-has-been-told.csv"))
    written = {references[r["Reference"]]: r["Value"] for r in rows if r["Detail"] == "Address line 1"}
    assert written == lines


def test_downloads_hold_only_the_citizens_own_disclosures(app: Flask, client: FlaskClient) -> None:
    other = app.test_client()
    theirs = submitted_report(app, signed_in(app, other))
    _set_states(app, theirs, {"dvla": "delivered"})
    signed_in(app, client)
    assert json.loads(client.get("/who-has-been-told.json").get_data(as_text=True))["disclosures"] == []
    assert client.get("/who-has-been-told.csv").get_data(as_text=True).strip().count("\n") == 0
    assert "Nothing has been sent to any organisation yet." in check_page(client.get("/who-has-been-told")).get_text()


def test_tracking_pages_need_a_signed_in_citizen(client: FlaskClient) -> None:
    for path in ("/changes", "/changes/TUO-0000-0000", "/who-has-been-told", "/who-has-been-told.csv", "/who-has-been-told.json"):
        response = client.get(path)
        assert response.status_code == 302 and response.location.startswith("/account/sign-in"), path


MOVE = date(2027, 2, 15)  # within three months of 22 November 2026


def _reference(app: Flask) -> str:
    with transaction(app.extensions["tellusonce.engine"], writer=False) as session:
        return session.scalars(select(ChangeReport.reference)).one()


def test_the_tracker_says_when_in_welsh(app: Flask, client: FlaskClient) -> None:
    signed_in(app, client, language="cy")
    report_a_move(client, recipients=("dvla",), submit=False, move_date={"move_date": date_parts(MOVE)})
    post_form(client, "/report/check", {})
    response = client.get(f"/changes/{_reference(app)}")
    html = response.get_data(as_text=True)
    page = check_page(response)
    assert "15 Chwefror 2027" in page.get_text(" ", strip=True)
    assert english_on_page(html) == []
