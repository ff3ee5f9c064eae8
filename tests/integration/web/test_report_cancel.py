"""Cancel this report: the warning page, the cancellation, the tracker after it, and who may do it."""

from __future__ import annotations

from account_helpers import post_form
from english_left import english_on_page
from flask import Flask
from flask.testing import FlaskClient
from journey_helpers import mark_delivered, page_text, report_notifications, signed_in, submitted_report
from page_checks import check_page, page_title
from sqlalchemy import update

from tellusonce.clock import utcnow
from tellusonce.db import transaction
from tellusonce.models import Notification, NotificationKind, NotificationState
from tellusonce.web.language import COOKIE


def test_the_report_page_offers_to_cancel_and_the_warning_says_who_has_it_and_who_will_not_be_told(
        app: Flask, client: FlaskClient) -> None:
    citizen = signed_in(app, client)
    report = submitted_report(app, citizen)  # DVLA, HMRC, Leeds council tax
    mark_delivered(app, report, "dvla")
    tracker = check_page(client.get(f"/changes/{report.reference}"))
    link = tracker.find("a", string="Cancel this report")
    assert link is not None and link["href"] == f"/changes/{report.reference}/cancel"
    page = check_page(client.get(link["href"]))
    assert page_title(page).startswith(f"Cancel report {report.reference}")
    text = page_text(page)
    has_it, will_not = text.split("Who has it already")[1].split("Who will not now be told")
    assert "Driver and Vehicle Licensing Agency" in has_it and "sent it on" in has_it
    assert "HM Revenue" in will_not and "Leeds" in will_not
    assert "HM Revenue" not in has_it
    assert "You cannot undo cancelling a report" in text
    assert report_notifications(app, report)[0].state != NotificationState.CANCELLED  # looking changes nothing


def test_cancelling_stops_what_is_queued_tells_who_has_it_and_the_tracker_shows_both(
        app: Flask, client: FlaskClient) -> None:
    citizen = signed_in(app, client)
    report = submitted_report(app, citizen)
    mark_delivered(app, report, "dvla")
    response = post_form(client, f"/changes/{report.reference}/cancel", {})
    assert response.status_code == 302 and response.headers["Location"] == f"/changes/{report.reference}"
    rows = report_notifications(app, report)
    by = {(n.department_id, n.kind): n for n in rows}
    assert by[("hmrc", "change")].state == by[("leeds-council-tax", "change")].state == NotificationState.CANCELLED
    event = by[("dvla", NotificationKind.CANCELLATION)]
    assert event.original_id == by[("dvla", "change")].id and event.state == NotificationState.PENDING
    assert ("hmrc", NotificationKind.CANCELLATION) not in by
    page = check_page(client.get(f"/changes/{report.reference}"))
    text = page_text(page)
    assert f"You have cancelled report {report.reference}" in text
    assert "You cancelled this report on" in text
    assert page.find("a", string="Cancel this report") is None
    cards = {c.select_one(".govuk-summary-card__title").get_text(strip=True): page_text(c)
             for c in page.select(".govuk-summary-card")}
    dvla = next(v for k, v in cards.items() if k.startswith("Driver"))
    hmrc = next(v for k, v in cards.items() if k.startswith("HM Revenue"))
    assert "Will be told it is cancelled once they have the report" in dvla
    assert "Cancelled before sending" in hmrc and "you cancelled the report before it went" in hmrc
    # Once the cancellation is delivered, the tracker says so, with when.
    _deliver_event(app, event)
    dvla = page_text(check_page(client.get(f"/changes/{report.reference}")))
    assert "Cancellation Told it is cancelled" in dvla and "Told it is cancelled" in dvla.split("Cancellation queued")[1]
    listed = page_text(check_page(client.get("/changes")))
    assert "You cancelled this report" in listed and "3 organisations" not in listed


def _deliver_event(app: Flask, event: Notification) -> None:
    with transaction(app.extensions["tellusonce.engine"]) as session:
        session.execute(update(Notification).where(Notification.id == event.id)
                        .values(state=NotificationState.DELIVERED, delivered_at=utcnow()))


def test_a_cancelled_report_cannot_be_cancelled_twice_and_says_so_plainly(app: Flask, client: FlaskClient) -> None:
    citizen = signed_in(app, client)
    report = submitted_report(app, citizen)
    mark_delivered(app, report, "dvla")
    path = f"/changes/{report.reference}/cancel"
    token_page = client.get(path).get_data(as_text=True)
    assert post_form(client, path, {}).status_code == 302
    again = check_page(client.get(path))
    assert page_title(again).startswith(f"Report {report.reference} is already cancelled")
    # The warning page left open in another tab, sent again: the same page, nothing written twice.
    from bs4 import BeautifulSoup

    token = BeautifulSoup(token_page, "html.parser").find("input", attrs={"name": "csrf_token"})["value"]
    twice = client.post(path, data={"csrf_token": token})
    assert twice.status_code == 200
    assert "is already cancelled" in twice.get_data(as_text=True)
    assert sum(n.kind == NotificationKind.CANCELLATION for n in report_notifications(app, report)) == 1


def test_another_citizens_report_is_not_found_and_signed_out_means_signing_in(app: Flask, client: FlaskClient) -> None:
    owner = signed_in(app, client)
    report = submitted_report(app, owner)
    other = app.test_client()
    signed_in(app, other)
    path = f"/changes/{report.reference}/cancel"
    assert other.get(path).status_code == 404
    assert other.post(path, data={"csrf_token": "x"}).status_code in (400, 404)
    signed_out = app.test_client()
    response = signed_out.get(path)
    assert response.status_code == 302 and "/account/sign-in" in response.headers["Location"]
    assert all(n.state == NotificationState.PENDING for n in report_notifications(app, report))


def test_cancelling_needs_the_forms_csrf_token(app: Flask, client: FlaskClient) -> None:
    citizen = signed_in(app, client)
    report = submitted_report(app, citizen)
    assert client.post(f"/changes/{report.reference}/cancel", data={}).status_code == 400
    assert all(n.state == NotificationState.PENDING for n in report_notifications(app, report))


def test_the_warning_the_tracker_and_the_already_cancelled_page_are_in_welsh(app: Flask, client: FlaskClient) -> None:
    citizen = signed_in(app, client)
    report = submitted_report(app, citizen)
    mark_delivered(app, report, "dvla")
    client.set_cookie(COOKIE, "cy", domain="localhost")
    path = f"/changes/{report.reference}/cancel"
    warning = client.get(path).get_data(as_text=True)
    assert '<html lang="cy"' in warning and not english_on_page(warning)
    assert post_form(client, path, {}).status_code == 302
    for shown in (f"/changes/{report.reference}", path, "/changes"):
        html = client.get(shown).get_data(as_text=True)
        assert not english_on_page(html), (shown, english_on_page(html))
