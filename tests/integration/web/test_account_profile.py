"""Your details: checked like the change types, and shown safely whatever they contain."""

from __future__ import annotations

from datetime import date

import pytest
from account_helpers import make_citizen, post_form, sign_in
from flask import Flask
from flask.testing import FlaskClient
from page_checks import check_page, page_title
from sqlalchemy import select

from tellusonce.db import transaction
from tellusonce.models import Citizen

GOOD = {
    "given_names": "Zoë Ann", "family_name": "O’Brien-Smith",
    "date_of_birth": ["27", "3", "1985"], "ni_number": "ab 12 34 56 c",
    "address_line_1": "1 High Street", "address_line_2": "", "town": "Leeds", "postcode": "ls11aa",
    "phone": "07911 123456",
}


@pytest.fixture
def signed_in(app: Flask, client: FlaskClient) -> FlaskClient:
    make_citizen(app)
    sign_in(client)
    return client


def _stored(app: Flask) -> Citizen:
    with transaction(app.extensions["tellusonce.engine"], writer=False) as session:
        citizen = session.scalars(select(Citizen).where(Citizen.email == "ada@example.com")).one()
        session.expunge(citizen)
    return citizen


def test_your_details_are_saved_tidied_and_shown_again(app: Flask, signed_in: FlaskClient) -> None:
    page = check_page(signed_in.get("/account/details"))
    assert page.find(id="given_names")["value"] == "Ada"
    assert page.find(id="date_of_birth-day")["value"] == "27"
    response = post_form(signed_in, "/account/details", GOOD)
    assert response.status_code == 302
    citizen = _stored(app)
    assert (citizen.given_names, citizen.family_name) == ("Zoë Ann", "O’Brien-Smith")
    assert citizen.date_of_birth == date(1985, 3, 27)
    assert (citizen.ni_number, citizen.postcode, citizen.phone) == ("AB123456C", "LS1 1AA", "+447911123456")
    assert citizen.address_line_2 is None
    assert "Your details have been saved" in check_page(signed_in.get("/account/details")).get_text()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("postcode", "AB1 CDE", "Enter a real postcode, like LS1 1AA"),
        ("ni_number", "QQ 12 34 56", "Enter a National Insurance number in the correct format"),
        ("phone", "12", "Enter a phone number, like"),
        ("given_names", "Ada 2", "Given names must only include letters"),
        ("date_of_birth", ["31", "2", "1985"], "Date of birth must be a real date"),
        ("date_of_birth", ["1", "", "1985"], "Date of birth must include a month"),
        ("date_of_birth", ["27", "3", "85"], "Year must include 4 numbers"),
        ("date_of_birth", ["1", "1", "2999"], "Date of birth must be today or in the past"),
    ],
)
def test_a_detail_in_the_wrong_form_is_refused_with_the_change_types_message(
    signed_in: FlaskClient, field: str, value: object, message: str
) -> None:
    page = check_page(post_form(signed_in, "/account/details", {**GOOD, field: value}), errors=True)
    assert page_title(page).startswith("Error: Your details")
    summary = page.select_one(".govuk-error-summary")
    assert message in summary.get_text()
    assert summary.find("a")["href"] == f"#{field}"


def test_month_names_are_understood_in_a_date(app: Flask, signed_in: FlaskClient) -> None:
    post_form(signed_in, "/account/details", {**GOOD, "date_of_birth": ["9", "Sept", "1970"]})
    assert _stored(app).date_of_birth == date(1970, 9, 9)


HOSTILE = "<script>alert('x')</script>\u202e\"quoted\" &amp;"


def test_hostile_details_are_escaped_wherever_they_are_shown(app: Flask, client: FlaskClient) -> None:
    make_citizen(app, "hostile@example.com", given_names=HOSTILE, family_name="\u202eevil\u202c", town=HOSTILE)
    sign_in(client, "hostile@example.com")
    response = client.get("/account/details")
    page = check_page(response)
    body = response.get_data(as_text=True)
    assert "<script>alert" not in body
    assert "&lt;script&gt;" in body
    # The value comes back exactly as stored, not double-escaped or cut.
    assert page.find(id="given_names")["value"] == HOSTILE
    assert page.find(id="family_name")["value"] == "\u202eevil\u202c"


def test_the_profile_form_refuses_script_in_a_name(signed_in: FlaskClient) -> None:
    response = post_form(signed_in, "/account/details", {**GOOD, "given_names": "<script>alert(1)</script>"})
    body = response.get_data(as_text=True)
    assert "<script>alert(1)" not in body
    check_page(response, errors=True)

