"""Organisations named and described in Welsh (``name_cy`` and ``purpose_cy``) on Welsh pages and in
what the signed-in pages download; a department without them is shown in English, marked ``lang="en"``."""

from __future__ import annotations

from datetime import timedelta

from bs4 import BeautifulSoup
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from tellusonce.clock import today, utcnow
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


# The English a Welsh page shows for TV Licensing once the registry gives it no Welsh.
TV_LICENSING_ENGLISH = ("TV Licensing", "Issues TV Licences")


def _english_not_marked(html: str) -> list[str]:
    """Each text of the page naming TV Licensing in English outside a ``lang="en"`` part (the
    browser's title cannot hold markup, so it is not read)."""
    page = BeautifulSoup(html, "html.parser")
    for unread in page.find_all(("script", "style", "title")):
        unread.decompose()
    return [" ".join(node.split()) for node in page.find_all(string=True)
            if any(english in node for english in TV_LICENSING_ENGLISH) and node.find_parent(lang="en") is None]


def test_every_welsh_page_that_names_a_department_without_welsh_marks_its_english(
        app: Flask, client: FlaskClient, tv_licensing_without_welsh: None) -> None:
    from tests.account_helpers import post_form
    from tests.journey_helpers import answer_pages, choose, date_parts, move_answers, start_change

    signed_in(app, client)
    client.get("/language/cy?next=/")
    pages: dict[str, str] = {}

    def read(path: str) -> None:
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        pages[path] = response.get_data(as_text=True)

    for path in ("/", "/organisations", "/privacy"):
        read(path)
    start_change(client, "address")
    # A move ahead of its date: the check page asks when each organisation should be told.
    answer_pages(client, move_answers(move_date={"move_date": date_parts(today() + timedelta(days=30))}))
    read("/report/organisations")
    pages["/report/organisations (no consent answer)"] = post_form(
        client, "/report/organisations", {"recipients": ["tv-licensing"]}).get_data(as_text=True)
    choose(client, ["tv-licensing", "dvla"], {"tv-licensing": "always", "dvla": "once"})
    read("/report/check")
    pages["/report/check (no timing answer)"] = post_form(
        client, "/report/check", {"when-tv-licensing": ""}).get_data(as_text=True)
    confirmation = post_form(client, "/report/check", {"when-tv-licensing": "now", "when-dvla": "now"})
    assert confirmation.status_code in (302, 303), confirmation.status_code
    read(confirmation.location)
    reference = confirmation.location.rsplit("/", 1)[-1]
    for path in (f"/changes/{reference}", "/who-has-been-told", "/consents", "/consents/history",
                 "/consents/tv-licensing/change", "/consents/tv-licensing/withdraw", f"/changes/{reference}/cancel",
                 f"/changes/{reference}/correct", "/account/close"):
        read(path)
    pages["/consents/tv-licensing/change (limited)"] = post_form(
        client, "/consents/tv-licensing/change", {"change_types": ["name"]}).get_data(as_text=True)
    post_form(client, "/consents/tv-licensing/withdraw", {})
    read("/consents")  # with the flash message saying consent was withdrawn
    assert "Trwyddedu Teledu" not in pages["/consents"]

    unmarked = {path: found for path, html in pages.items() if (found := _english_not_marked(html))}
    assert not unmarked, "English shown on Welsh pages without lang=\"en\":\n" + "\n".join(
        f"{path}: {found}" for path, found in unmarked.items())
