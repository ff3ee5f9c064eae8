"""Welsh Language Standard 2: an account records the language a person wants us to write to them
in, asked once when the account is made and changeable in Your details; pages follow it after
the explicit choice and before the browser's Accept-Language."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from tellusonce.db import transaction
from tellusonce.models import Citizen
from tests.account_helpers import PASSWORD, make_citizen, post_form, sign_in
from tests.page_checks import check_page

QUESTION_EN = "Which language would you like us to use when we write to you?"
QUESTION_CY = "Pa iaith hoffech chi i ni ei defnyddio wrth ysgrifennu atoch chi?"


def _language_of(app: Flask, address: str) -> str:
    with transaction(app.extensions["tellusonce.engine"]) as session:
        return session.scalars(select(Citizen.language).where(Citizen.email == address)).one()


def _legend(page) -> str:  # type: ignore[no-untyped-def]
    fieldset = page.find("input", attrs={"name": "language"}).find_parent("fieldset")
    return fieldset.find("legend").get_text(" ", strip=True)


def _checked(page) -> str:  # type: ignore[no-untyped-def]
    return page.find("input", attrs={"name": "language", "checked": True})["value"]


@pytest.mark.parametrize(("accept", "question", "preselected"), [("en", QUESTION_EN, "en"), ("cy", QUESTION_CY, "cy")])
def test_creating_an_account_asks_which_language_to_write_in(client: FlaskClient, accept: str, question: str,
                                                            preselected: str) -> None:
    page = check_page(client.get("/account/create", headers={"Accept-Language": accept}))
    assert _legend(page) == question
    assert _checked(page) == preselected
    labels = [label.get_text(strip=True) for label in page.select("input[name=language] + label")]
    assert labels == ["English", "Cymraeg"]


def test_the_language_chosen_at_creation_is_recorded(app: Flask, client: FlaskClient) -> None:
    response = post_form(client, "/account/create", {"email": "gwen@example.com", "password": PASSWORD, "language": "cy"})
    assert response.status_code == 302
    assert _language_of(app, "gwen@example.com") == "cy"


def test_a_form_sent_without_the_answer_records_the_language_the_page_showed(app: Flask, client: FlaskClient) -> None:
    post_form(client, "/account/create", {"email": "ada@example.com", "password": PASSWORD})
    assert _language_of(app, "ada@example.com") == "en"


def test_a_language_the_service_does_not_write_in_is_refused(app: Flask, client: FlaskClient) -> None:
    response = post_form(client, "/account/create", {"email": "gwen@example.com", "password": PASSWORD, "language": "fr"})
    page = check_page(response, status=200)
    assert "Select the language you would like us to use when we write to you" in page.select_one(
        ".govuk-error-summary").get_text(" ", strip=True)


def test_your_details_shows_and_changes_the_recorded_language(app: Flask, client: FlaskClient) -> None:
    make_citizen(app)
    sign_in(client)
    page = check_page(client.get("/account/details"))
    assert (_legend(page), _checked(page)) == (QUESTION_EN, "en")
    response = post_form(client, "/account/details", {"language": "cy", "given_names": "Ada", "family_name": "Lovelace"})
    assert response.status_code == 302
    assert _language_of(app, "ada@example.com") == "cy"
    assert _checked(check_page(client.get("/account/details"))) == "cy"


def test_pages_follow_the_account_after_the_explicit_choice_and_before_the_browser(app: Flask,
                                                                                   client: FlaskClient) -> None:
    make_citizen(app, language="cy")
    sign_in(client)
    page = check_page(client.get("/account/details", headers={"Accept-Language": "en"}))
    assert page.html["lang"] == "cy"
    client.get("/language/en?next=/")
    page = check_page(client.get("/account/details", headers={"Accept-Language": "cy"}))
    assert page.html["lang"] == "en"


def test_a_signed_in_choice_survives_signing_out_and_signing_in(app: Flask, client: FlaskClient) -> None:
    make_citizen(app)
    sign_in(client)
    client.get("/language/cy?next=/account/details")
    post_form(client, "/account/sign-out", {})
    assert check_page(client.get("/account/sign-in")).html["lang"] == "cy"
    sign_in(client)
    assert check_page(client.get("/account/details", headers={"Accept-Language": "en"})).html["lang"] == "cy"
    # The link is a page's language, chosen by a GET a link on another site could make: it does
    # not change what the account records, which only Your details (a form) changes.
    assert _language_of(app, "ada@example.com") == "en"


def test_signing_in_in_another_browser_follows_the_recorded_language(app: Flask, client: FlaskClient) -> None:
    make_citizen(app)
    sign_in(client)
    post_form(client, "/account/details", {"language": "cy", "given_names": "Ada", "family_name": "Lovelace"})
    elsewhere = app.test_client()  # no language cookie there
    assert check_page(elsewhere.get("/account/sign-in", headers={"Accept-Language": "en"})).html["lang"] == "en"
    sign_in(elsewhere)
    assert check_page(elsewhere.get("/account/details", headers={"Accept-Language": "en"})).html["lang"] == "cy"


def test_the_database_holds_only_languages_the_service_writes_in(app: Flask) -> None:
    with pytest.raises(IntegrityError), transaction(app.extensions["tellusonce.engine"]) as session:
        make = Citizen(email="x@example.com", password_hash="x", session_version=0, language="fr")
        session.add(make)
        session.flush()
