"""Every email to a citizen with an account is written in the account's recorded language
(Welsh Language Standard 2), whatever the language of the page that caused it."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from tests.account_helpers import PASSWORD, latest_email, make_citizen, post_form
from tests.journey_helpers import report_a_move, signed_in


def test_the_first_email_is_in_the_language_chosen_on_an_english_page(app: Flask, client: FlaskClient) -> None:
    post_form(client, "/account/create", {"email": "gwen@example.com", "password": PASSWORD, "language": "cy"})
    email = latest_email(app, "gwen@example.com")
    assert (email.language, email.subject) == ("cy", "Cadarnhewch eich cyfeiriad e-bost")


def test_an_account_that_exists_is_told_so_in_its_language(app: Flask, client: FlaskClient) -> None:
    make_citizen(app, "gwen@example.com", language="cy")
    post_form(client, "/account/create", {"email": "gwen@example.com", "password": PASSWORD, "language": "en"})
    email = latest_email(app, "gwen@example.com")
    assert (email.purpose, email.language) == ("account_exists", "cy")


def test_a_reset_link_asked_for_on_an_english_page_is_sent_in_welsh_to_a_welsh_account(app: Flask,
                                                                                      client: FlaskClient) -> None:
    make_citizen(app, "gwen@example.com", language="cy")
    post_form(client, "/account/reset-password", {"email": "gwen@example.com"})
    email = latest_email(app, "gwen@example.com")
    assert (email.purpose, email.language) == ("reset_password", "cy")


def test_an_english_account_gets_english_email_from_a_welsh_page(app: Flask, client: FlaskClient) -> None:
    make_citizen(app, "ada@example.com", language="en")
    client.get("/language/cy?next=/")
    post_form(client, "/account/reset-password", {"email": "ada@example.com"})
    assert latest_email(app, "ada@example.com").language == "en"


def test_the_confirmation_of_a_change_reported_on_an_english_page_is_in_the_accounts_welsh(
        app: Flask, client: FlaskClient) -> None:
    citizen = signed_in(app, client, language="cy")
    client.get("/language/en?next=/")
    report_a_move(client)
    email = latest_email(app, citizen.email)
    assert email.purpose == "report_submitted"
    assert email.language == "cy"
    assert email.subject.startswith("Rhoddwyd gwybod am y newid: ")
    assert "Yr Asiantaeth Trwyddedu Gyrwyr a Cherbydau (DVLA)" in email.context["organisations"]

