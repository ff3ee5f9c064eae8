"""Changing your password: the current one asked, the new one checked, every other session ended."""

from __future__ import annotations

import pytest
from account_helpers import PASSWORD, emails_to, latest_email, link_in, make_citizen, post_form, sign_in
from flask import Flask
from flask.testing import FlaskClient
from page_checks import check_page, page_title

CHANGE = "/account/details/password"
NEW_PASSWORD = "purple elephant umbrella"


@pytest.fixture
def signed_in(app: Flask, client: FlaskClient) -> FlaskClient:
    make_citizen(app)
    sign_in(client)
    return client


def _change(client: FlaskClient, current: str = PASSWORD, new: str = NEW_PASSWORD):  # type: ignore[no-untyped-def]
    return post_form(client, CHANGE, {"current_password": current, "password": new})


def test_changing_the_password_keeps_this_browser_signed_in_and_signs_out_every_other(
    app: Flask, signed_in: FlaskClient
) -> None:
    other_device = app.test_client()
    sign_in(other_device)
    assert other_device.get("/account/details").status_code == 200
    page = check_page(signed_in.get(CHANGE))
    assert page_title(page).startswith("Change your password")

    response = _change(signed_in)
    assert response.status_code == 302 and response.location == "/account/details"
    page = check_page(signed_in.get("/account/details"))
    assert "Your password has been changed" in page.get_text()
    assert other_device.get("/account/details").status_code == 302
    assert latest_email(app, "ada@example.com").subject == "Your password has been changed"

    fresh = app.test_client()
    assert post_form(fresh, "/account/sign-in", {"email": "ada@example.com", "password": PASSWORD}).status_code == 200
    sign_in(fresh, password=NEW_PASSWORD)


def test_an_old_copy_of_this_browsers_cookie_stops_working_too(app: Flask, signed_in: FlaskClient) -> None:
    copy = app.test_client()
    cookie = signed_in.get_cookie("tellusonce_session")
    assert cookie is not None
    copy.set_cookie("tellusonce_session", cookie.value)
    assert copy.get("/account/details").status_code == 200
    _change(signed_in)
    assert copy.get("/account/details").status_code == 302
    assert signed_in.get("/account/details").status_code == 200


def test_a_wrong_current_password_is_refused_and_nothing_changes(app: Flask, signed_in: FlaskClient) -> None:
    page = check_page(_change(signed_in, current="not my password"), errors=True)
    assert page_title(page).startswith("Error: Change your password")
    assert "Enter the correct password" in page.select_one("#current_password-error").get_text()
    assert emails_to(app, "ada@example.com") == []
    sign_in(app.test_client())


@pytest.mark.parametrize(
    ("new", "message"),
    [
        ("short", "at least 12 characters"),
        ("password1234", "one of the most common passwords"),
        ("ada@example.com", "must not be your email address"),
        (PASSWORD, "different from your current one"),
        ("", "Enter a new password"),
    ],
)
def test_the_new_password_is_checked_as_at_sign_up(signed_in: FlaskClient, new: str, message: str) -> None:
    page = check_page(_change(signed_in, new=new), errors=True)
    assert message in page.select_one("#password-error").get_text()


def test_changing_the_password_stops_older_reset_links(app: Flask, signed_in: FlaskClient) -> None:
    post_form(app.test_client(), "/account/reset-password", {"email": "ada@example.com"})
    reset = link_in(latest_email(app, "ada@example.com"), "/account/reset-password/")
    _change(signed_in)
    assert app.test_client().get(reset).status_code == 404


def test_the_form_needs_the_csrf_token_and_a_signed_in_account(app: Flask, signed_in: FlaskClient) -> None:
    assert signed_in.post(CHANGE, data={"current_password": PASSWORD, "password": NEW_PASSWORD}).status_code == 400
    stranger = app.test_client()
    assert stranger.get(CHANGE).status_code == 302
    assert stranger.get(CHANGE).location.startswith("/account/sign-in?next=")
    sign_in(app.test_client())  # the password is unchanged


def test_the_page_and_its_email_are_in_welsh_for_a_welsh_account(app: Flask, client: FlaskClient) -> None:
    make_citizen(app, "gwen@example.com", language="cy")
    sign_in(client, "gwen@example.com")
    assert page_title(check_page(client.get(CHANGE))).startswith("Newid eich cyfrinair")
    page = check_page(_change(client, current="anghywir"), errors=True)
    assert "Rhowch y cyfrinair cywir" in page.select_one(".govuk-error-summary").get_text()
    _change(client)
    assert "Rydych chi’n dal wedi mewngofnodi yma" in check_page(client.get("/account/details")).get_text()
    email = latest_email(app, "gwen@example.com")
    assert (email.language, email.subject) == ("cy", "Mae eich cyfrinair wedi’i newid")
