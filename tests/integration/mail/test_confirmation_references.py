"""Who may learn a report's reference from the email-confirmation pages.

The page that says "Change confirmed" shows the reference, so it is shown only to the
citizen the report belongs to (signed in) or to the browser that has just confirmed it;
a spent link says it has been used and nothing more. The change emailed here moved a week
before the service's own "now", so these tests hold whatever the date is.
"""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from tellusonce.clock import utcnow
from tellusonce.db import transaction
from tellusonce.mailout.render import rendered_bodies
from tellusonce.models import ChangeReport, Citizen, ReportState
from tests.account_helpers import csrf_token
from tests.integration.mail.messages import MOVE, add_citizen, outgoing, process_all, typed
from tests.journey_helpers import signed_in, submitted_report
from tests.page_checks import check_page

LONDON = ZoneInfo("Europe/London")


def held_change(engine, deliver, settings) -> str:
    """A move emailed by a verified citizen, held for confirmation now; the token from its email."""
    add_citizen(engine)
    moved = (utcnow() - timedelta(days=7)).astimezone(LONDON).date()
    deliver(typed(MOVE.replace("1/11/2026", f"{moved.day}/{moved.month}/{moved.year}")))
    process_all(engine, settings, now=utcnow())
    [email] = outgoing(engine)
    return re.search(r"/confirm-email-change/([a-z2-7]+)", rendered_bodies(email)[0]).group(1)


def the_report(engine) -> ChangeReport:
    with transaction(engine, writer=False) as session:
        return session.scalars(select(ChangeReport)).one()


def sign_in_as_the_sender(engine, client: FlaskClient) -> None:
    with transaction(engine, writer=False) as session:
        ada = session.scalars(select(Citizen).where(Citizen.email == "ada@example.org")).one()
        citizen_id, version = str(ada.id), ada.session_version
    with client.session_transaction() as session:
        session["citizen_id"] = citizen_id
        session["session_version"] = version


def confirm(client: FlaskClient, token: str):
    page = client.get(f"/confirm-email-change/{token}")
    assert page.status_code == 200, page.get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    return client.post(f"/confirm-email-change/{token}", data={"csrf_token": csrf})


def test_the_browser_that_confirmed_sees_its_reference_and_another_browser_does_not(
        listener, deliver, engine, mail_settings, app: Flask, client: FlaskClient):
    token = held_change(engine, deliver, mail_settings)
    response = confirm(client, token)
    report = the_report(engine)
    assert report.state == ReportState.SUBMITTED
    done = f"/confirm-email-change/done/{report.reference}"
    assert response.status_code == 303 and response.headers["Location"].endswith(done)
    page = client.get(done)
    assert page.status_code == 200 and report.reference in page.get_data(as_text=True)

    stranger = app.test_client()
    assert stranger.get(done).status_code == 404
    signed_in(app, stranger)
    assert stranger.get(done).status_code == 404


def test_the_sender_signed_in_sees_the_done_page_of_their_report_from_any_browser(
        listener, deliver, engine, mail_settings, app: Flask, client: FlaskClient):
    token = held_change(engine, deliver, mail_settings)
    confirm(client, token)
    report = the_report(engine)
    elsewhere = app.test_client()
    sign_in_as_the_sender(engine, elsewhere)
    page = elsewhere.get(f"/confirm-email-change/done/{report.reference}")
    assert page.status_code == 200 and report.reference in page.get_data(as_text=True)


def test_the_done_page_of_a_web_report_is_not_found_for_another_citizen_or_anyone_signed_out(
        app: Flask, client: FlaskClient):
    owner = app.test_client()
    report = submitted_report(app, signed_in(app, owner))
    done = f"/confirm-email-change/done/{report.reference}"
    assert client.get(done).status_code == 404
    signed_in(app, client)
    assert client.get(done).status_code == 404
    assert client.get("/confirm-email-change/done/TUO-0000-0000").status_code == 404


def test_a_spent_link_says_it_was_used_and_never_gives_the_reference(
        listener, deliver, engine, mail_settings, app: Flask, client: FlaskClient):
    token = held_change(engine, deliver, mail_settings)
    confirm(client, token)
    report = the_report(engine)

    signed_out, another = app.test_client(), app.test_client()
    tokens = {holder: csrf_token(holder, "/account/sign-in") for holder in (signed_out, another)}  # their own
    signed_in(app, another)
    for holder, csrf in tokens.items():
        for response in (holder.get(f"/confirm-email-change/{token}"),
                         holder.post(f"/confirm-email-change/{token}", data={"csrf_token": csrf})):
            page = check_page(response, status=410)
            assert page.h1.get_text(strip=True) == "This link has already been used"
            assert report.reference not in str(page)
            assert page.select_one("main a.govuk-link")["href"].startswith("/account/sign-in")
    assert the_report(engine).state == ReportState.SUBMITTED


def test_the_sender_opening_their_spent_link_again_is_taken_to_the_done_page(
        listener, deliver, engine, mail_settings, app: Flask, client: FlaskClient):
    token = held_change(engine, deliver, mail_settings)
    confirm(client, token)
    report = the_report(engine)
    again = client.get(f"/confirm-email-change/{token}")  # the browser that confirmed it
    assert again.status_code == 303 and again.headers["Location"].endswith(report.reference)
    elsewhere = app.test_client()
    sign_in_as_the_sender(engine, elsewhere)
    later = elsewhere.get(f"/confirm-email-change/{token}")
    assert later.status_code == 303 and later.headers["Location"].endswith(report.reference)
