"""Changing your email address: asked with the password, confirmed from the new address, no enumeration."""

from __future__ import annotations

from datetime import timedelta

import pytest
from account_helpers import PASSWORD, emails_to, latest_email, link_in, make_citizen, post_form, sign_in
from flask import Flask
from flask.testing import FlaskClient
from page_checks import check_page, page_title
from sqlalchemy import select

from tellusonce.clock import ShiftedClock
from tellusonce.db import transaction
from tellusonce.mailout.render import rendered_bodies
from tellusonce.models import AuditEvent, Citizen, EmailToken

CHANGE = "/account/details/email"


@pytest.fixture
def signed_in(app: Flask, client: FlaskClient) -> FlaskClient:
    make_citizen(app)
    sign_in(client)
    return client


def _ask(client: FlaskClient, address: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    return post_form(client, CHANGE, {"email": address, "password": password})


def _email_of(app: Flask, given: str) -> str:
    with transaction(app.extensions["tellusonce.engine"], writer=False) as session:
        return session.scalars(select(Citizen.email).where(Citizen.given_names == given)).one()


def _events(app: Flask) -> list[str]:
    with transaction(app.extensions["tellusonce.engine"], writer=False) as session:
        return list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def test_your_details_link_to_changing_the_address_the_password_and_the_sign_ins(signed_in: FlaskClient) -> None:
    page = check_page(signed_in.get("/account/details"))
    links = {a["href"] for a in page.select("main a")}
    assert {"/account/details/email", "/account/details/password", "/account/sign-ins"} <= links


def test_a_new_address_is_confirmed_from_a_link_sent_to_it_and_the_old_one_is_told(
    app: Flask, signed_in: FlaskClient
) -> None:
    page = check_page(signed_in.get(CHANGE))
    assert page_title(page).startswith("Change your email address")
    response = _ask(signed_in, "Ada.New@Example.com")
    assert response.status_code == 302 and response.location == "/account/details/email/sent"
    assert "ada.new@example.com" in check_page(signed_in.get(response.location)).get_text()

    notice = latest_email(app, "ada@example.com")
    assert notice.subject == "You asked to change your email address"
    text = rendered_bodies(notice)[0]
    assert "ad•••@example.com" in text and "ada.new@example.com" not in text
    assert "/account/reset-password" in text
    confirm = latest_email(app, "ada.new@example.com")
    assert confirm.subject == "Confirm your new email address"
    link = link_in(confirm, "/account/confirm-new-email/")
    assert _email_of(app, "Ada") == "ada@example.com"  # nothing changes until the link is followed

    # Opening the link changes nothing (mail scanners open links); the button does.
    check_page(signed_in.get(link))
    assert _email_of(app, "Ada") == "ada@example.com"
    response = post_form(signed_in, link, {})
    assert response.status_code == 302 and response.location == "/account/details"
    assert "Your email address has been changed to ada.new@example.com" in check_page(
        signed_in.get("/account/details")).get_text()
    assert _email_of(app, "Ada") == "ada.new@example.com"
    last = latest_email(app, "ada@example.com")
    assert last.subject == "Your email address has been changed"
    assert "ad•••@example.com" in rendered_bodies(last)[0]
    assert _events(app)[-2:] == ["account.email_change_asked", "account.email_changed"]

    # The link works once; the account signs in with the new address only.
    assert signed_in.get(link).status_code == 404
    fresh = app.test_client()
    assert post_form(fresh, "/account/sign-in", {"email": "ada@example.com", "password": PASSWORD}).status_code == 200
    sign_in(fresh, "ada.new@example.com")


def test_the_link_works_in_a_browser_that_is_not_signed_in_and_signs_nobody_in(
    app: Flask, signed_in: FlaskClient
) -> None:
    _ask(signed_in, "ada.new@example.com")
    link = link_in(latest_email(app, "ada.new@example.com"), "/account/confirm-new-email/")
    phone = app.test_client()
    page = check_page(post_form(phone, link, {}))
    assert page_title(page).startswith("Your email address has been changed")
    assert _email_of(app, "Ada") == "ada.new@example.com"
    assert phone.get("/account/details").status_code == 302
    assert signed_in.get("/account/details").status_code == 200  # the asking browser stays signed in


def test_an_address_with_an_account_gets_the_same_answer_and_its_owner_is_told_instead(
    app: Flask, signed_in: FlaskClient
) -> None:
    make_citizen(app, "grace@example.com", given_names="Grace")
    free = _ask(signed_in, "someone-new@example.com")
    taken = _ask(signed_in, "Grace@example.com")
    assert (free.status_code, free.location) == (taken.status_code, taken.location)
    assert "grace@example.com" in check_page(signed_in.get(taken.location)).get_text()

    told = latest_email(app, "grace@example.com")
    assert told.subject == "Someone tried to use your email address"
    assert "/account/confirm-new-email/" not in rendered_bodies(told)[0]
    # The asking account's own address hears of both, in the same words.
    notices = [e for e in emails_to(app, "ada@example.com") if e.purpose == "change_email_requested"]
    assert len(notices) == 2
    assert _email_of(app, "Ada") == "ada@example.com" and _email_of(app, "Grace") == "grace@example.com"


def test_the_same_page_answers_whether_or_not_the_address_is_free(app: Flask, signed_in: FlaskClient) -> None:
    make_citizen(app, "grace@example.com", given_names="Grace")
    pages = []
    for address in ("someone-new@example.com", "grace@example.com"):
        _ask(signed_in, address)
        page = check_page(signed_in.get("/account/details/email/sent"))
        pages.append(page.select_one("main").get_text().replace(address, "ADDRESS"))
    assert pages[0] == pages[1]


def test_a_wrong_password_or_the_same_address_is_refused_and_nothing_is_sent(
    app: Flask, signed_in: FlaskClient
) -> None:
    page = check_page(_ask(signed_in, "ada.new@example.com", "not my password"), errors=True)
    assert page_title(page).startswith("Error: Change your email address")
    assert "Enter the correct password" in page.select_one(".govuk-error-summary").get_text()
    page = check_page(_ask(signed_in, "ADA@example.com"), errors=True)
    assert "Enter a different email address" in page.select_one("#email-error").get_text()
    page = check_page(_ask(signed_in, "not an address", ""), errors=True)
    summary = page.select_one(".govuk-error-summary").get_text()
    assert "Enter an email address in the correct format" in summary and "Enter your current password" in summary
    assert emails_to(app, "ada.new@example.com") == []
    assert [e.purpose for e in emails_to(app, "ada@example.com")] == []


def test_the_pages_are_in_welsh_for_a_welsh_account(app: Flask, client: FlaskClient) -> None:
    make_citizen(app, "gwen@example.com", language="cy")
    sign_in(client, "gwen@example.com")
    page = check_page(client.get(CHANGE))
    assert page_title(page).startswith("Newid eich cyfeiriad e-bost")
    page = check_page(_ask(client, "gwen@example.com"), errors=True)
    assert "Rhowch gyfeiriad e-bost gwahanol" in page.select_one(".govuk-error-summary").get_text()
    _ask(client, "gwen.newydd@example.com")
    assert "Gwiriwch eich cyfeiriad e-bost newydd" in check_page(client.get("/account/details/email/sent")).get_text()
    confirm = latest_email(app, "gwen.newydd@example.com")
    notice = latest_email(app, "gwen@example.com")
    assert (confirm.language, confirm.subject) == ("cy", "Cadarnhewch eich cyfeiriad e-bost newydd")
    assert (notice.language, notice.subject) == ("cy", "Rydych chi wedi gofyn am newid eich cyfeiriad e-bost")
    link = link_in(confirm, "/account/confirm-new-email/")
    assert page_title(check_page(client.get(link))).startswith("Cadarnhewch eich cyfeiriad e-bost newydd")
    post_form(client, link, {})
    assert "Mae eich cyfeiriad e-bost wedi’i newid i gwen.newydd@example.com" in check_page(
        client.get("/account/details")).get_text()
    done = latest_email(app, "gwen@example.com")
    assert (done.language, done.subject) == ("cy", "Mae eich cyfeiriad e-bost wedi’i newid")


def test_the_link_expires_after_24_hours(app: Flask, signed_in: FlaskClient, clock: ShiftedClock) -> None:
    _ask(signed_in, "ada.new@example.com")
    link = link_in(latest_email(app, "ada.new@example.com"), "/account/confirm-new-email/")
    clock.advance(timedelta(hours=24, seconds=1))
    page = check_page(signed_in.get(link), status=404)
    assert "expired or has already been used" in page.get_text()
    assert post_form(signed_in, link, {}, form_page="/account/details").status_code == 404
    assert _email_of(app, "Ada") == "ada@example.com"


def test_only_the_latest_link_works(app: Flask, signed_in: FlaskClient) -> None:
    _ask(signed_in, "first@example.com")
    first = link_in(latest_email(app, "first@example.com"), "/account/confirm-new-email/")
    _ask(signed_in, "second@example.com")
    assert signed_in.get(first).status_code == 404
    second = link_in(latest_email(app, "second@example.com"), "/account/confirm-new-email/")
    post_form(signed_in, second, {})
    assert _email_of(app, "Ada") == "second@example.com"


def test_a_browser_signed_in_to_another_account_cannot_use_the_link(app: Flask, signed_in: FlaskClient) -> None:
    _ask(signed_in, "ada.new@example.com")
    link = link_in(latest_email(app, "ada.new@example.com"), "/account/confirm-new-email/")
    make_citizen(app, "grace@example.com", given_names="Grace")
    grace = app.test_client()
    sign_in(grace, "grace@example.com")
    page = check_page(grace.get(link), status=403)
    assert page_title(page).startswith("This link is for another account")
    assert post_form(grace, link, {}, form_page="/account/details").status_code == 403
    assert (_email_of(app, "Ada"), _email_of(app, "Grace")) == ("ada@example.com", "grace@example.com")
    # The link is kept for its own account.
    post_form(signed_in, link, {})
    assert _email_of(app, "Ada") == "ada.new@example.com"


def test_confirming_needs_the_csrf_token(app: Flask, signed_in: FlaskClient) -> None:
    _ask(signed_in, "ada.new@example.com")
    link = link_in(latest_email(app, "ada.new@example.com"), "/account/confirm-new-email/")
    assert signed_in.post(link, data={}).status_code == 400
    assert signed_in.post(CHANGE, data={"email": "other@example.com", "password": PASSWORD}).status_code == 400
    assert _email_of(app, "Ada") == "ada@example.com"
    assert emails_to(app, "other@example.com") == []


def test_an_address_taken_after_the_link_was_sent_is_not_given_and_says_why(
    app: Flask, signed_in: FlaskClient
) -> None:
    _ask(signed_in, "ada.new@example.com")
    link = link_in(latest_email(app, "ada.new@example.com"), "/account/confirm-new-email/")
    make_citizen(app, "ada.new@example.com", given_names="Someone")
    page = check_page(post_form(signed_in, link, {}), status=409)
    assert page_title(page).startswith("This email address already has an account")
    assert _email_of(app, "Ada") == "ada@example.com"


def test_links_sent_to_the_old_address_stop_working_once_it_changes(app: Flask, signed_in: FlaskClient) -> None:
    post_form(app.test_client(), "/account/reset-password", {"email": "ada@example.com"})
    reset = link_in(latest_email(app, "ada@example.com"), "/account/reset-password/")
    _ask(signed_in, "ada.new@example.com")
    post_form(signed_in, link_in(latest_email(app, "ada.new@example.com"), "/account/confirm-new-email/"), {})
    assert app.test_client().get(reset).status_code == 404
    with transaction(app.extensions["tellusonce.engine"], writer=False) as session:
        assert session.scalars(select(EmailToken).where(EmailToken.used_at.is_(None))).all() == []


def test_resetting_the_password_stops_a_change_asked_for_with_the_old_one(app: Flask, signed_in: FlaskClient) -> None:
    _ask(signed_in, "thief@example.com")
    link = link_in(latest_email(app, "thief@example.com"), "/account/confirm-new-email/")
    owner = app.test_client()
    post_form(owner, "/account/reset-password", {"email": "ada@example.com"})
    reset = link_in(latest_email(app, "ada@example.com"), "/account/reset-password/")
    post_form(owner, reset, {"password": "purple elephant umbrella"})
    assert app.test_client().get(link).status_code == 404
    assert _email_of(app, "Ada") == "ada@example.com"
