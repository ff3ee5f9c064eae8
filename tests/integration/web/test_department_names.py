"""Organisations named and described in Welsh (``name_cy`` and ``purpose_cy``) on Welsh pages and in
what the signed-in pages download; a department without them is shown in English, marked ``lang="en"``."""

from __future__ import annotations

from bs4 import BeautifulSoup
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from tellusonce.clock import utcnow
from tellusonce.db import transaction
from tellusonce.models import Notification, NotificationState
from tests.journey_helpers import signed_in, submitted_report
from tests.page_checks import check_page

WELSH = {"Accept-Language": "cy"}


def test_the_organisations_page_names_and_describes_them_in_welsh(client: FlaskClient) -> None:
    page = check_page(client.get("/organisations", headers=WELSH))
    headings = [h.get_text(strip=True) for h in page.select("h2.govuk-heading-l")]
    assert "Cyllid a Thollau EF (CThEF)" in headings and "HM Revenue and Customs (HMRC)" not in headings
    assert "Yn casglu treth" in page.get_text()
    english = check_page(client.get("/organisations"))
    assert "HM Revenue and Customs (HMRC)" in [h.get_text(strip=True) for h in english.select("h2.govuk-heading-l")]


def test_a_department_without_welsh_is_shown_in_english_marked_as_english(
        client: FlaskClient, tv_licensing_without_welsh: None) -> None:
    page = check_page(client.get("/organisations", headers=WELSH))
    heading = page.select_one("#org-tv-licensing")
    marked = heading.select_one('[lang="en"]')
    assert marked is not None and marked.get_text(strip=True) == "TV Licensing"
    purpose = heading.find_next("p")
    assert purpose.select_one('[lang="en"]').get_text(strip=True) == "Issues TV Licences, which cover an address, not a person."


def _texts(page: BeautifulSoup) -> str:
    return page.get_text(" ", strip=True)


def test_the_signed_in_pages_name_the_organisations_in_welsh(app: Flask, client: FlaskClient) -> None:
    citizen = signed_in(app, client)
    report = submitted_report(app, citizen)
    with transaction(app.extensions["tellusonce.engine"]) as session:
        session.execute(update(Notification).where(Notification.report_id == report.id)
                        .values(state=NotificationState.DELIVERED, delivered_at=utcnow()))
    client.get("/language/cy?next=/")
    for path in (f"/changes/{report.reference}", "/who-has-been-told", "/consents"):
        text = _texts(check_page(client.get(path)))
        assert "Yr Asiantaeth Trwyddedu Gyrwyr a Cherbydau (DVLA)" in text, path
        assert "Driver and Vehicle Licensing Agency (DVLA)" not in text, path
    text = _texts(check_page(client.get("/consents")))
    assert "Yn cadw cofnodion trwyddedau gyrru a cherbydau" in text
    csv = client.get("/who-has-been-told.csv").get_data(as_text=True)
    assert "Yr Asiantaeth Trwyddedu Gyrwyr a Cherbydau (DVLA)" in csv and "Driver and Vehicle" not in csv
    [item, *_] = client.get("/who-has-been-told.json").get_json()["disclosures"]
    assert item["organisation"]["name"] in {"Yr Asiantaeth Trwyddedu Gyrwyr a Cherbydau (DVLA)",
                                            "Cyllid a Thollau EF (CThEF)", "Cyngor Dinas Leeds – Treth Gyngor"}


def test_the_report_journey_offers_the_organisations_by_their_welsh_names(app: Flask, client: FlaskClient) -> None:
    from tests.journey_helpers import answer_pages, move_answers, start_change

    signed_in(app, client)
    client.get("/language/cy?next=/")
    start_change(client, "address")
    answer_pages(client, move_answers())
    page = check_page(client.get("/report/organisations"))
    labels = [label.get_text(strip=True) for label in page.select(".govuk-checkboxes__label")]
    assert "Cyllid a Thollau EF (CThEF)" in labels and "HM Revenue and Customs (HMRC)" not in labels
