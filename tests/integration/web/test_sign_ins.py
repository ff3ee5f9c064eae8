"""Your sign-ins: each sign-in and wrong password recorded, the last 30 days listed, nothing more kept."""

from __future__ import annotations

from datetime import timedelta

from account_helpers import latest_email, link_in, make_citizen, post_form, sign_in
from flask import Flask
from flask.testing import FlaskClient
from page_checks import check_page, page_title
from sqlalchemy import select

from tellusonce.clock import ShiftedClock
from tellusonce.db import transaction
from tellusonce.models import SignInEvent

FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
SAFARI = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.5 Mobile/15E148 Safari/604.1")


def _browser(app: Flask, user_agent: str) -> FlaskClient:
    """A test client whose every request says it is ``user_agent``."""
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = user_agent
    return client


def _rows(page) -> list[list[str]]:  # type: ignore[no-untyped-def]
    return [[cell.get_text(" ", strip=True) for cell in row.select("td")] for row in page.select("tbody tr")]


def _events(app: Flask) -> list[SignInEvent]:
    with transaction(app.extensions["tellusonce.engine"], writer=False) as session:
        events = list(session.scalars(select(SignInEvent).order_by(SignInEvent.at)))
        session.expunge_all()
    return events


def test_sign_ins_and_wrong_passwords_are_listed_newest_first_with_the_browser(app: Flask) -> None:
    make_citizen(app)
    laptop, phone = _browser(app, FIREFOX), _browser(app, SAFARI)
    post_form(phone, "/account/sign-in", {"email": "ada@example.com", "password": "not the password"})
    sign_in(laptop)
    page = check_page(laptop.get("/account/sign-ins"))
    assert page_title(page).startswith("Your sign-ins")
    assert _rows(page) == [
        ["22 November 2026 at 12:00pm", "Password", "Signed in", "Firefox on Windows"],
        ["22 November 2026 at 12:00pm", "Password", "Wrong password", "Mobile Safari on iOS"],
    ]
    assert "We do not keep your internet address" in page.get_text()


def test_only_what_the_page_shows_is_kept(app: Flask) -> None:
    make_citizen(app)
    sign_in(_browser(app, FIREFOX))
    (event,) = _events(app)
    assert (event.method, event.succeeded, event.browser, event.system) == ("password", True, "Firefox", "Windows")
    assert set(SignInEvent.__table__.columns.keys()) == {"id", "citizen_id", "at", "method", "succeeded", "browser",
                                                         "system"}


def test_an_unknown_address_records_nothing(app: Flask, client: FlaskClient) -> None:
    make_citizen(app)
    post_form(client, "/account/sign-in", {"email": "nobody@example.com", "password": "not the password"})
    assert _events(app) == []


def test_signing_in_by_an_emailed_link_is_listed_as_one(app: Flask, client: FlaskClient) -> None:
    make_citizen(app)
    post_form(client, "/account/reset-password", {"email": "ada@example.com"})
    reset = link_in(latest_email(app, "ada@example.com"), "/account/reset-password/")
    post_form(client, reset, {"password": "purple elephant umbrella"})
    page = check_page(client.get("/account/sign-ins"))
    assert [row[1:3] for row in _rows(page)] == [["Email link", "Signed in"]]
    assert _rows(page)[0][3] == "Not known"  # the test client's User-Agent names no browser


def test_sign_ins_older_than_30_days_are_not_listed(app: Flask, clock: ShiftedClock) -> None:
    make_citizen(app)
    sign_in(app.test_client())
    clock.advance(timedelta(days=31))
    client = app.test_client()
    sign_in(client)
    page = check_page(client.get("/account/sign-ins"))
    assert len(_rows(page)) == 1


def test_another_accounts_sign_ins_are_never_shown(app: Flask) -> None:
    make_citizen(app)
    make_citizen(app, "grace@example.com", given_names="Grace")
    sign_in(_browser(app, FIREFOX))
    grace = app.test_client()
    sign_in(grace, "grace@example.com")
    assert [row[3] for row in _rows(check_page(grace.get("/account/sign-ins")))] == ["Not known"]


def test_the_page_needs_an_account(client: FlaskClient) -> None:
    assert client.get("/account/sign-ins").location.startswith("/account/sign-in?next=")


def test_the_page_is_in_welsh_for_a_welsh_account(app: Flask) -> None:
    make_citizen(app, "gwen@example.com", language="cy")
    client = _browser(app, FIREFOX)
    sign_in(client, "gwen@example.com")
    page = check_page(client.get("/account/sign-ins"))
    assert page_title(page).startswith("Eich mewngofnodion")
    assert _rows(page) == [["22 Tachwedd 2026 am 12:00yh", "Cyfrinair", "Wedi mewngofnodi", "Firefox ar Windows"]]
