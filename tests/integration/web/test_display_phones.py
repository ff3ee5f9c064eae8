"""Wherever a person reads a phone number it is written as they would write it ("07911 123456"),
while what is kept and sent to departments stays in the international form (+447911123456)."""

from __future__ import annotations

from account_helpers import make_citizen, post_form, sign_in
from flask import Flask
from flask.testing import FlaskClient
from journey_helpers import answer_pages, choose, prefilled, signed_in, start_change
from page_checks import check_page
from sqlalchemy import select

from tellusonce.db import transaction
from tellusonce.models import Citizen, Notification


def test_your_details_show_your_phone_number_as_you_would_write_it(app: Flask, client: FlaskClient) -> None:
    make_citizen(app, phone="+447911123456")
    sign_in(client)
    page = check_page(client.get("/account/details"))
    assert page.find(id="phone")["value"] == "07911 123456"
    # Saving the page unchanged keeps the same number.
    assert post_form(client, "/account/details", {"given_names": "Ada", "family_name": "Lovelace",
                                                  "date_of_birth": ["27", "3", "1985"], "phone": "07911 123456"}).status_code == 302
    with transaction(app.extensions["tellusonce.engine"], writer=False) as session:
        assert session.scalars(select(Citizen.phone)).one() == "+447911123456"


def test_a_number_from_abroad_is_shown_with_its_country_code(app: Flask, client: FlaskClient) -> None:
    make_citizen(app, phone="+33123456789")
    sign_in(client)
    assert check_page(client.get("/account/details")).find(id="phone")["value"] == "+33 1 23 45 67 89"


def test_your_phone_number_is_filled_in_as_written_when_you_report_a_death(app: Flask, client: FlaskClient) -> None:
    signed_in(app, client, phone="+447911123456")
    start_change(client, "death")
    assert prefilled(client, "/report/questions/about-you")["reporter_phone"] == "07911 123456"


def test_check_your_answers_shows_a_new_number_as_written_and_the_department_gets_it_in_full(
    app: Flask, client: FlaskClient
) -> None:
    signed_in(app, client)
    start_change(client, "contact")
    answer_pages(client, {"your-details": {}, "new-contact": {"phone": "01134960000"}})
    choose(client, ["hmrc"])
    page = check_page(client.get("/report/check"))
    assert "0113 496 0000" in page.select_one("#your-answers").get_text()
    assert "0113 496 0000" in page.select_one("#recipient-hmrc").get_text()
    assert "+441134960000" not in page.get_text()
    assert post_form(client, "/report/check", {}).status_code == 303
    with transaction(app.extensions["tellusonce.engine"], writer=False) as session:
        assert session.scalars(select(Notification.payload)).one()["phone"] == "+441134960000"
