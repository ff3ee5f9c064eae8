"""Forms a person can use: what a password manager is told, dates, and questions with a default."""

from __future__ import annotations

import re

from account_helpers import latest_email, link_in, make_citizen, post_form, sign_in
from flask import Flask
from flask.testing import FlaskClient
from journey_helpers import answer_pages, move_answers, prefilled, signed_in, start_change
from page_checks import check_page
from sqlalchemy import select

from tellusonce.db import transaction
from tellusonce.models import Citizen


def _input_tag(html: str, field_id: str) -> str:
    """The raw ``<input>`` tag with this id (a parser would merge repeated attributes)."""
    match = re.search(rf'<input\b[^>]*\bid="{re.escape(field_id)}"[^>]*>', html)
    assert match, f"no input #{field_id}"
    return match.group(0)


def test_creating_an_account_asks_the_password_manager_for_a_new_password_once(client: FlaskClient) -> None:
    tag = _input_tag(client.get("/account/create").get_data(as_text=True), "password")
    assert re.findall(r'\bautocomplete="([^"]*)"', tag) == ["new-password"]


def test_a_new_password_after_a_reset_link_is_a_new_password_too(app: Flask, client: FlaskClient) -> None:
    make_citizen(app)
    post_form(client, "/account/reset-password", {"email": "ada@example.com"})
    link = link_in(latest_email(app, "ada@example.com"), "/account/reset-password/")
    tag = _input_tag(client.get(link).get_data(as_text=True), "password")
    assert re.findall(r'\bautocomplete="([^"]*)"', tag) == ["new-password"]


def test_signing_in_asks_for_the_current_password_once(client: FlaskClient) -> None:
    tag = _input_tag(client.get("/account/sign-in").get_data(as_text=True), "password")
    assert re.findall(r'\bautocomplete="([^"]*)"', tag) == ["current-password"]


def test_the_national_insurance_hints_own_example_is_saved_from_your_details(app: Flask, client: FlaskClient) -> None:
    make_citizen(app)
    sign_in(client)
    page = check_page(client.get("/account/details"))
    hint = page.select_one("#ni_number-hint").get_text(" ", strip=True)
    example = hint.rsplit("For example, ", 1)[1]
    response = post_form(client, "/account/details", {"ni_number": example.lower()})
    assert response.status_code == 302
    with transaction(app.extensions["tellusonce.engine"], writer=False) as session:
        assert session.scalars(select(Citizen.ni_number).where(Citizen.email == "ada@example.com")).one() == "QQ123456C"


def test_a_two_digit_year_is_answered_year_must_include_4_numbers(app: Flask, client: FlaskClient) -> None:
    signed_in(app, client)
    start_change(client, "address")
    pages = move_answers()
    answer_pages(client, {"your-details": pages["your-details"], "new-address": pages["new-address"]})
    response = post_form(client, "/report/questions/move-date", {"move_date": ["1", "11", "26"]})
    page = check_page(response, errors=True)
    assert page.select_one(".govuk-error-summary a").get_text(strip=True) == "Year must include 4 numbers"
    assert page.select_one(".govuk-error-message").get_text(" ", strip=True).endswith("Year must include 4 numbers")
    # Only the year box is highlighted.
    highlighted = [i["id"] for i in page.select("input.govuk-input--error")]
    assert highlighted == ["move_date-year"]


def test_a_date_without_its_month_says_so(app: Flask, client: FlaskClient) -> None:
    signed_in(app, client)
    start_change(client, "name")
    answer_pages(client, {"your-details": {}, "new-name": {"new_given_names": "Amara", "new_family_name": "Bello"},
                          "reason": {"reason": "marriage"}})
    page = check_page(post_form(client, "/report/questions/change-date", {"change_date": ["1", "", "2026"]}), errors=True)
    assert page.select_one(".govuk-error-summary a").get_text(strip=True) == "Date your name changed must include a month"
    assert [i["id"] for i in page.select("input.govuk-input--error")] == ["change_date-month"]


def test_the_yes_or_no_questions_of_a_move_show_their_answer_chosen_before_anyone_answers(
    app: Flask, client: FlaskClient
) -> None:
    signed_in(app, client)
    start_change(client, "address")
    assert prefilled(client, "/report/questions/household")["others_moving"] == "no"
    assert prefilled(client, "/report/questions/protect-address")["protected_address"] == "no"


def test_skipping_a_yes_or_no_question_is_answered_no_on_check_your_answers_not_not_given(
    app: Flask, client: FlaskClient
) -> None:
    signed_in(app, client)
    start_change(client, "address")
    pages = move_answers()
    for slug in ("household", "protect-address"):
        pages[slug] = {}
    answer_pages(client, pages)
    # Pressing Continue on them with nothing chosen (a browser sends no value for unchecked radios).
    for slug in ("household", "protect-address"):
        response = post_form(client, f"/report/questions/{slug}", {})
        assert response.status_code == 302
    post_form(client, "/report/organisations", {"recipients": ["dvla"], "consent-dvla": "once"})
    page = check_page(client.get("/report/check"))
    answers = {row.select_one(".govuk-summary-list__key").get_text(strip=True):
               row.select_one(".govuk-summary-list__value").get_text(strip=True)
               for row in page.select("#your-answers .govuk-summary-list__row")}
    assert answers["Others in your household are moving too"] == "No"
    assert answers["Keep my new address protected"] == "No"
    assert "Not given" not in page.select_one("#your-answers").get_text()
