"""Close your account: the warning page, the choice to tell organisations, the password asked again,
the confirmation email, every session ended, the done page signed out, and a fresh start after."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest
from account_helpers import PASSWORD, emails_to, latest_email, make_citizen, post_form, sign_in
from english_left import english_in_email, english_on_page
from flask import Flask
from flask.testing import FlaskClient
from journey_helpers import submitted_report
from page_checks import check_page, page_title
from sqlalchemy import Engine, select, update

from tellusonce import create_app
from tellusonce.db import transaction
from tellusonce.mailout.render import rendered_bodies
from tellusonce.models import ChangeReport, Citizen, Notification, NotificationKind, NotificationState
from tellusonce.settings import Settings

CLOSE = "/account/close"
COOKIE = "tellusonce_language"


@pytest.fixture
def ada(app: Flask, client: FlaskClient) -> Citizen:
    citizen = make_citizen(app)
    sign_in(client)
    return citizen


def _deliver(app: Flask, report: ChangeReport, department: str) -> None:
    with transaction(app.extensions["tellusonce.engine"]) as session:
        session.execute(update(Notification).where(Notification.report_id == report.id,
                                                   Notification.department_id == department)
                        .values(state=NotificationState.DELIVERED, next_attempt_at=None))


def _notifications(app: Flask, citizen: Citizen) -> list[Notification]:
    with transaction(app.extensions["tellusonce.engine"], writer=False) as session:
        return list(session.scalars(select(Notification).where(Notification.citizen_id == citizen.id)
                                    .order_by(Notification.department_id)))


def _citizen(app: Flask, citizen: Citizen) -> Citizen:
    with transaction(app.extensions["tellusonce.engine"], writer=False) as session:
        return session.get_one(Citizen, citizen.id)


def test_the_warning_says_what_is_deleted_what_is_kept_and_who_could_be_told(
        app: Flask, client: FlaskClient, ada: Citizen) -> None:
    report = submitted_report(app, ada)
    _deliver(app, report, "dvla")
    assert 'href="/account/close"' in client.get("/account/details").get_data(as_text=True)
    page = check_page(client.get(CLOSE))
    assert page_title(page).startswith("Close your account")
    text = " ".join(page.get_text().split())
    assert "You cannot undo closing your account" in text
    assert "30 days after you close your account we delete" in text
    assert "the answers in your 1 report" in text
    assert "Reports already sent to organisations are their records now" in text
    assert "for 6 years" in text
    told = text.split("Organisations we have sent your reports to")[1]
    assert "Driver and Vehicle Licensing Agency" in told and "HM Revenue" not in told  # HMRC: only queued
    box = page.select_one("input[name=tell_organisations]")
    assert box is not None and not box.has_attr("checked")
    button = page.select_one("#close-account")
    assert "govuk-button--warning" in button["class"] and button.get_text(strip=True) == "Close your account"
    assert _citizen(app, ada).closed_at is None  # looking changes nothing


def test_closing_signs_out_everywhere_emails_the_address_and_tells_the_organisations_only_if_asked(
        app: Flask, client: FlaskClient, ada: Citizen) -> None:
    report = submitted_report(app, ada)
    _deliver(app, report, "dvla")
    other_device = app.test_client()
    sign_in(other_device)
    response = post_form(client, CLOSE, {"tell_organisations": "y", "password": PASSWORD})
    assert response.status_code == 302 and response.location == "/account/closed"
    done = check_page(client.get("/account/closed"))
    assert page_title(done).startswith("Your account is closed")
    assert "ada@example.com" in done.get_text()
    assert done.select_one('a[href="/account/sign-out"]') is None  # the signed-out layout
    for device in (client, other_device):
        assert device.get("/account/details").status_code == 302
    assert post_form(app.test_client(), "/account/sign-in",
                     {"email": "ada@example.com", "password": PASSWORD}).status_code == 200  # refused
    states = {(n.department_id, n.kind): n.state for n in _notifications(app, ada)}
    assert states[("dvla", NotificationKind.ACCOUNT_CLOSED)] == NotificationState.PENDING
    assert states[("hmrc", NotificationKind.CHANGE)] == NotificationState.CANCELLED
    assert ("hmrc", NotificationKind.ACCOUNT_CLOSED) not in states
    email = latest_email(app, "ada@example.com")
    assert email.subject == "Your Tell us once account is closed"
    body, _html = rendered_bodies(email)
    assert "Driver and Vehicle Licensing Agency" in body and "30 days after you closed" in body


def test_without_the_box_ticked_no_organisation_is_told(app: Flask, client: FlaskClient, ada: Citizen) -> None:
    _deliver(app, submitted_report(app, ada), "dvla")
    assert post_form(client, CLOSE, {"password": PASSWORD}).status_code == 302
    assert not [n for n in _notifications(app, ada) if n.kind == NotificationKind.ACCOUNT_CLOSED]
    assert _citizen(app, ada).closed_at is not None


def test_a_wrong_password_closes_nothing(app: Flask, client: FlaskClient, ada: Citizen) -> None:
    page = check_page(post_form(client, CLOSE, {"password": "not my password"}), errors=True)
    assert page_title(page).startswith("Error: Close your account")
    assert "Enter the correct password" in page.select_one("#password-error").get_text()
    page = check_page(post_form(client, CLOSE, {"password": ""}), errors=True)
    assert "Enter your password" in page.select_one("#password-error").get_text()
    assert _citizen(app, ada).closed_at is None
    assert emails_to(app, "ada@example.com") == []


def test_closing_needs_the_csrf_token_and_a_signed_in_account(app: Flask, client: FlaskClient, ada: Citizen) -> None:
    assert client.post(CLOSE, data={"password": PASSWORD}).status_code == 400
    stranger = app.test_client()
    assert stranger.get(CLOSE).location.startswith("/account/sign-in?next=")
    assert stranger.get("/account/closed").status_code == 302
    assert _citizen(app, ada).closed_at is None


def test_creating_an_account_with_the_address_again_starts_afresh(app: Flask, client: FlaskClient,
                                                                  ada: Citizen) -> None:
    submitted_report(app, ada)
    post_form(client, CLOSE, {"password": PASSWORD})
    fresh = app.test_client()
    response = post_form(fresh, "/account/create", {"email": "ada@example.com", "password": "a new long passphrase",
                                                    "language": "en"})
    assert response.status_code == 302
    assert latest_email(app, "ada@example.com").purpose == "verify_email"  # not "you already have an account"
    with transaction(app.extensions["tellusonce.engine"], writer=False) as session:
        new = session.scalars(select(Citizen).where(Citizen.email == "ada@example.com")).one()
        assert new.id != ada.id and new.given_names is None
        assert not session.scalars(select(ChangeReport).where(ChangeReport.citizen_id == new.id)).all()


def test_the_pages_and_the_email_are_in_welsh(app: Flask, client: FlaskClient) -> None:
    citizen = make_citizen(app, "gwen@example.com", language="cy")
    sign_in(client, "gwen@example.com")
    _deliver(app, submitted_report(app, citizen), "dvla")
    client.set_cookie(COOKIE, "cy", domain="localhost")
    warning = client.get(CLOSE).get_data(as_text=True)
    assert '<html lang="cy"' in warning and not english_on_page(warning), english_on_page(warning)
    wrong = post_form(client, CLOSE, {"password": "anghywir"}).get_data(as_text=True)
    assert not english_on_page(wrong), english_on_page(wrong)
    post_form(client, CLOSE, {"tell_organisations": "y", "password": PASSWORD})
    done = client.get("/account/closed").get_data(as_text=True)
    assert '<html lang="cy"' in done and not english_on_page(done), english_on_page(done)
    email = latest_email(app, "gwen@example.com")
    assert email.language == "cy" and email.subject == "Mae eich cyfrif Dweud Wrthym Unwaith wedi’i gau"
    text, _ = rendered_bodies(email)
    assert "Yr Asiantaeth Trwyddedu Gyrwyr a Cherbydau (DVLA)" in text
    assert not english_in_email(text), english_in_email(text)


def test_wrong_passwords_are_paused_per_account_as_on_the_other_account_forms(
        settings: Settings, engine: Engine, database_cleaner: Callable[[Engine], None]) -> None:
    strict = create_app(dataclasses.replace(settings, account_rate_limit="20 per minute",
                                            account_rate_limit_per_address="3 per minute"))
    try:
        citizen = make_citizen(strict)
        client = strict.test_client()
        sign_in(client)
        statuses = [post_form(client, CLOSE, {"password": "not my password"}).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        check_page(post_form(client, CLOSE, {"password": PASSWORD}), status=429)
        assert _citizen(strict, citizen).closed_at is None
    finally:
        strict.extensions["tellusonce.engine"].dispose()
        database_cleaner(engine)
