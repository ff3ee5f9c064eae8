"""Your details: turning the emails about what happens to your changes off and on again."""

from __future__ import annotations

import pytest
from account_helpers import make_citizen, post_form, sign_in
from flask import Flask
from flask.testing import FlaskClient
from page_checks import check_page
from sqlalchemy import select

from tellusonce.db import transaction
from tellusonce.models import AuditEvent, Citizen

PAGE = "/account/details/report-emails"


@pytest.fixture
def signed_in(app: Flask, client: FlaskClient) -> FlaskClient:
    make_citizen(app)
    sign_in(client)
    return client


def _wanted(app: Flask) -> bool:
    with transaction(app.extensions["tellusonce.engine"], writer=False) as session:
        return session.scalars(select(Citizen.report_emails).where(Citizen.email == "ada@example.com")).one()


def test_your_details_show_the_emails_are_on_by_default_with_a_link_to_change_it(app: Flask,
                                                                               signed_in: FlaskClient) -> None:
    page = check_page(signed_in.get("/account/details"))
    row = page.find(id="report-emails").find_next("dl")
    assert "Yes" in row.get_text()
    assert row.find("a")["href"] == PAGE
    form = check_page(signed_in.get(PAGE))
    assert form.find("input", attrs={"name": "emails", "value": "yes"}).has_attr("checked")


def test_a_citizen_turns_the_emails_off_and_on_again(app: Flask, signed_in: FlaskClient) -> None:
    response = post_form(signed_in, PAGE, {"emails": "no"})
    assert response.status_code == 302 and response.headers["Location"] == "/account/details"
    assert _wanted(app) is False
    page = check_page(signed_in.get("/account/details"))
    assert "We will not email you about what happens to your changes" in page.get_text()
    assert "No" in page.find(id="report-emails").find_next("dl").get_text()
    assert check_page(signed_in.get(PAGE)).find("input", attrs={"name": "emails", "value": "no"}).has_attr("checked")
    post_form(signed_in, PAGE, {"emails": "yes"})
    assert _wanted(app) is True
    with transaction(app.extensions["tellusonce.engine"], writer=False) as session:
        changes = session.scalars(select(AuditEvent.details).where(AuditEvent.action == "account.report_emails_changed")
                                  .order_by(AuditEvent.id)).all()
    assert changes == [{"on": False}, {"on": True}]


def test_an_answer_altered_by_hand_is_refused_with_the_error_summary(app: Flask, signed_in: FlaskClient) -> None:
    page = check_page(post_form(signed_in, PAGE, {"emails": "maybe"}))
    assert page.title.get_text().startswith("Error:")
    assert "Select yes if you want us to email you" in page.find(class_="govuk-error-summary").get_text()
    assert _wanted(app) is True


def test_the_page_needs_you_signed_in(client: FlaskClient) -> None:
    response = client.get(PAGE)
    assert response.status_code == 302 and "/account/sign-in" in response.headers["Location"]
