"""Accounts: create, confirm the address, sign in and out, reset the password."""

from __future__ import annotations

from account_helpers import PASSWORD, emails_to, latest_email, link_in, make_citizen, post_form, sign_in
from flask import Flask
from flask.testing import FlaskClient
from page_checks import check_page, page_title

from tellusonce.mailout.render import rendered_bodies

NEW_PASSWORD = "purple elephant umbrella"


def _register(client: FlaskClient, email: str = "grace@example.com", password: str = PASSWORD):  # type: ignore[no-untyped-def]
    return post_form(client, "/account/create", {"email": email, "password": password})


def test_creating_an_account_emails_a_link_that_confirms_the_address_and_signs_in(app: Flask, client: FlaskClient) -> None:
    response = _register(client, "Grace@Example.com")
    assert response.status_code == 302 and response.location == "/account/check-email"
    page = check_page(client.get("/account/check-email"))
    assert "grace@example.com" in page.get_text()

    email = latest_email(app, "grace@example.com")
    assert email.subject == "Confirm your email address"
    link = link_in(email, "/account/verify/")
    # Opening the link does not spend it (mail scanners open links); the button does.
    check_page(client.get(link))
    check_page(client.get(link))
    response = post_form(client, link, {})
    assert response.status_code == 302 and response.location == "/account/details"
    page = check_page(client.get("/account/details"))
    assert "Your email address is confirmed" in page.get_text()
    # The link works once.
    assert client.get(link).status_code == 404


def test_an_unconfirmed_account_cannot_sign_in_but_can_ask_for_a_new_link(app: Flask, client: FlaskClient) -> None:
    _register(client)
    response = post_form(client, "/account/sign-in", {"email": "grace@example.com", "password": PASSWORD})
    assert response.location == "/account/unverified"
    check_page(client.get("/account/unverified"))
    post_form(client, "/account/unverified", {})
    assert len(emails_to(app, "grace@example.com")) == 2
    assert client.get("/account/details").status_code == 302


def test_registering_an_address_that_has_an_account_answers_the_same_and_emails_the_owner(
    app: Flask, client: FlaskClient
) -> None:
    make_citizen(app, "ada@example.com")
    new = _register(client, "someone-new@example.com")
    taken = _register(client, "ada@example.com")
    assert new.status_code == taken.status_code == 302
    assert new.location == taken.location
    email = latest_email(app, "ada@example.com")
    assert email.subject == "You already have an account"
    assert "/account/reset-password" in rendered_bodies(email)[0]


def test_a_weak_or_common_password_is_refused_with_a_message_saying_what_to_do(client: FlaskClient) -> None:
    for password, message in [
        ("short", "at least 12 characters"),
        ("password1234", "one of the most common passwords"),
        ("grace@example.com", "must not be your email address"),
    ]:
        page = check_page(_register(client, "grace@example.com", password), errors=True)
        assert page_title(page).startswith("Error: Create an account")
        assert message in page.select_one(".govuk-error-summary").get_text()
        assert page.select_one("#password-error") is not None


def test_three_random_words_make_an_acceptable_password(client: FlaskClient) -> None:
    assert _register(client, "grace@example.com", "cat sun tree").status_code == 302


def test_an_invalid_email_address_is_refused_in_the_govuk_style(client: FlaskClient) -> None:
    page = check_page(_register(client, "not an address"), errors=True)
    link = page.select_one(".govuk-error-summary a")
    assert link["href"] == "#email"
    assert "Enter an email address in the correct format" in link.get_text()


def test_sign_in_with_a_wrong_password_or_unknown_address_gives_the_same_answer(app: Flask, client: FlaskClient) -> None:
    make_citizen(app)
    wrong = post_form(client, "/account/sign-in", {"email": "ada@example.com", "password": "not the password"})
    unknown = post_form(client, "/account/sign-in", {"email": "nobody@example.com", "password": "not the password"})
    for response in (wrong, unknown):
        page = check_page(response, errors=True)
        assert "Enter the email address and password for your account" in page.get_text()


def test_signing_in_rotates_the_session_and_returns_to_a_safe_next_page(app: Flask, client: FlaskClient) -> None:
    make_citizen(app)
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    response = sign_in(client, next="/organisations")
    assert response.location == "/organisations"
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session["citizen_id"]
    page = check_page(client.get("/"))
    nav = [a.get_text(strip=True) for a in page.select(".govuk-service-navigation__link")]
    assert "Your details" in nav and "Sign out" in nav and "Sign in" not in nav


def test_sign_in_never_redirects_to_another_site(app: Flask, client: FlaskClient) -> None:
    make_citizen(app)
    for hostile in ["https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:alert(1)",
                    "/\r\nSet-Cookie: x=1", "evil.example"]:
        response = post_form(client, "/account/sign-in", {"email": "ada@example.com", "password": PASSWORD, "next": hostile})
        assert response.status_code == 302
        assert response.location == "/", hostile
        post_form(client, "/account/sign-out", {}, form_page="/account/sign-out")


def test_pages_that_need_an_account_send_visitors_to_sign_in_and_back(app: Flask, client: FlaskClient) -> None:
    response = client.get("/account/details")
    assert response.status_code == 302
    assert response.location == "/account/sign-in?next=/account/details"
    make_citizen(app)
    page = check_page(client.get(response.location))
    assert page.find("input", attrs={"name": "next"})["value"] == "/account/details"
    assert sign_in(client, next="/account/details").location == "/account/details"


def test_signing_out_ends_the_session_and_an_old_copy_of_the_cookie_stops_working(app: Flask, client: FlaskClient) -> None:
    make_citizen(app)
    sign_in(client)
    with client.session_transaction() as session:
        stolen = dict(session)
    response = post_form(client, "/account/sign-out", {}, form_page="/account/sign-out")
    assert response.location == "/account/signed-out"
    check_page(client.get("/account/signed-out"))
    with client.session_transaction() as session:
        session.update(stolen)
    assert client.get("/account/details").status_code == 302


def test_resetting_a_password_by_emailed_link_signs_out_every_other_session(app: Flask, client: FlaskClient) -> None:
    make_citizen(app)
    other_device = app.test_client()
    sign_in(other_device)
    assert other_device.get("/account/details").status_code == 200

    response = post_form(client, "/account/reset-password", {"email": "ada@example.com"})
    assert response.location == "/account/check-email"
    link = link_in(latest_email(app, "ada@example.com"), "/account/reset-password/")
    page = check_page(client.get(link))
    assert page_title(page).startswith("Choose a new password")
    response = post_form(client, link, {"password": NEW_PASSWORD})
    assert response.location == "/account/details"

    assert other_device.get("/account/details").status_code == 302
    assert latest_email(app, "ada@example.com").subject == "Your password has been changed"
    assert client.get(link).status_code == 404
    fresh = app.test_client()
    assert post_form(fresh, "/account/sign-in", {"email": "ada@example.com", "password": PASSWORD}).status_code == 200
    sign_in(fresh, password=NEW_PASSWORD)


def test_asking_to_reset_an_unknown_address_answers_the_same_and_sends_nothing(app: Flask, client: FlaskClient) -> None:
    response = post_form(client, "/account/reset-password", {"email": "nobody@example.com"})
    assert response.location == "/account/check-email"
    assert emails_to(app, "nobody@example.com") == []


def test_a_made_up_or_expired_link_gets_a_clear_page(client: FlaskClient) -> None:
    for path in ["/account/verify/not-a-token", "/account/reset-password/not-a-token"]:
        page = check_page(client.get(path), status=404)
        assert "expired or has already been used" in page.get_text()
