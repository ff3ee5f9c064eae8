"""Posts a browser would never send get a clear answer, never a 500.

Every post here carries a valid CSRF token, as an attacker with the victim's
cookie and token could send it: out-of-range dates, file parts, other content
types and cross-site origins are each refused in the citizen's terms.
"""

from __future__ import annotations

import dataclasses
import io
import json
from collections.abc import Callable, Iterator

import pytest
from account_helpers import csrf_token, make_citizen, post_form
from flask import Flask
from flask.testing import FlaskClient
from journey_helpers import prefilled, report_a_move, signed_in, start_change
from page_checks import check_page, page_title
from sqlalchemy import Engine, select

from tellusonce import create_app
from tellusonce.db import transaction
from tellusonce.models import ChangeReport, Citizen
from tellusonce.settings import Settings

HUGE = "99999999999999999999"  # far past 2**31, and past what a C long holds
# Every date question: (change type or None for the account, the page, the date field).
DATE_QUESTIONS = [
    (None, "/account/details", "date_of_birth"),
    ("address", "/report/questions/your-details", "date_of_birth"),
    ("address", "/report/questions/move-date", "move_date"),
    ("name", "/report/questions/change-date", "change_date"),
    ("death", "/report/questions/person", "deceased_date_of_birth"),
    ("death", "/report/questions/date-of-death", "date_of_death"),
    ("birth", "/report/questions/child", "child_date_of_birth"),
    (None, "/consents/dvla/change", "until"),
]


def _post_date(client: FlaskClient, change_type: str | None, path: str, field: str, parts: list[str]):
    if change_type is not None:
        start_change(client, change_type)
    values = {k: v for k, v in prefilled(client, path).items() if k != field}
    if field == "until":
        values["change_types"] = "address"
    return post_form(client, path, {**values, field: parts})


def _error_on(page, field: str) -> str:
    message = page.select_one(f"#{field}-error")
    assert message is not None, f"no error on {field}"
    return message.get_text(" ", strip=True)


@pytest.mark.parametrize(("change_type", "path", "field"), DATE_QUESTIONS)
@pytest.mark.parametrize("parts", [["1", HUGE, "1980"], [HUGE, "1", "1980"], ["1", "1", "1" + HUGE]],
                         ids=["month", "day", "year"])
def test_a_date_part_too_large_for_any_date_is_the_date_inputs_own_error(
        app: Flask, client: FlaskClient, change_type: str | None, path: str, field: str, parts: list[str]) -> None:
    signed_in(app, client)
    page = check_page(_post_date(client, change_type, path, field, parts), errors=True)
    message = _error_on(page, field)
    assert message.endswith("must be a real date") or message.endswith("must include 4 numbers"), message


def test_consent_until_the_last_day_there_is_says_how_far_ahead_it_may_be(app: Flask, client: FlaskClient) -> None:
    signed_in(app, client)
    page = check_page(_post_date(client, None, "/consents/dvla/change", "until", ["31", "12", "9999"]), errors=True)
    assert "within 100 years" in _error_on(page, "until")


def test_consent_until_a_day_in_the_next_century_is_still_given(app: Flask, client: FlaskClient) -> None:
    signed_in(app, client)
    response = _post_date(client, None, "/consents/dvla/change", "until", ["1", "1", "2100"])
    assert response.status_code == 302


@pytest.mark.parametrize("month", ["Tachwedd", "tach", "Rhagfyr", "December", "dec"])
def test_a_month_typed_as_a_word_in_welsh_or_english_is_read(app: Flask, client: FlaskClient, month: str) -> None:
    signed_in(app, client)
    response = _post_date(client, None, "/consents/dvla/change", "until", ["1", month, "2100"])
    assert response.status_code == 302


# -- file parts where a text answer is expected ------------------------------------------

FORMS_WITH_TEXT = [
    (False, "/account/sign-in", "email"),
    (False, "/account/create", "email"),
    (False, "/account/reset-password", "email"),
    (True, "/account/details", "postcode"),
    (True, "/consents/dvla/change", "change_types"),
    (True, "/report/change", "change_type"),
]


@pytest.mark.parametrize(("signed", "path", "field"), FORMS_WITH_TEXT)
def test_a_file_where_a_text_answer_is_expected_is_refused_with_a_400_page(
        app: Flask, client: FlaskClient, signed: bool, path: str, field: str) -> None:
    if signed:
        signed_in(app, client)
    token = csrf_token(client, path)
    response = client.post(path, content_type="multipart/form-data",
                           data={"csrf_token": token, field: (io.BytesIO(b"%PDF-1.4"), "answer.pdf")})
    page = check_page(response, status=400)
    assert page_title(page).startswith("There is a problem with the request")


def test_a_multipart_form_without_files_is_a_form_like_any_other(app: Flask, client: FlaskClient) -> None:
    make_citizen(app)
    response = client.post("/account/sign-in", content_type="multipart/form-data", data={
        "csrf_token": csrf_token(client, "/account/sign-in"), "email": "ada@example.com",
        "password": "correct horse battery staple"})
    assert response.status_code == 302


# -- content types -----------------------------------------------------------------------


@pytest.mark.parametrize("body", [[1, 2], {"change_type": "address"}, "address", None])
def test_a_json_body_is_refused_with_a_415_page_even_with_the_token_in_its_header(
        app: Flask, client: FlaskClient, body: object) -> None:
    signed_in(app, client)
    token = csrf_token(client, "/report/change")
    response = client.post("/report/change", data=json.dumps(body), content_type="application/json",
                           headers={"X-CSRFToken": token})
    page = check_page(response, status=415)
    assert page_title(page).startswith("There is a problem with the request")


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "application/cloudevents+json",
                                          "application/octet-stream", "x-www-form-urlencoded"])
def test_any_content_type_but_a_forms_is_refused_on_every_page(
        app: Flask, client: FlaskClient, content_type: str) -> None:
    token = csrf_token(client, "/account/sign-in")
    response = client.post("/account/sign-in", data=f"csrf_token={token}&email=a@example.com",
                           content_type=content_type, headers={"X-CSRFToken": token})
    check_page(response, status=415)


def test_the_department_api_still_takes_json(app: Flask, client: FlaskClient) -> None:
    response = client.post("/api/v1/notifications/00000000-0000-0000-0000-000000000000/ack", json={},
                           headers={"Origin": "https://elsewhere.example"})
    assert response.status_code == 401 and response.is_json  # the key is checked, not the content type


def test_a_post_to_a_page_that_takes_none_is_still_a_405(client: FlaskClient) -> None:
    response = client.post("/organisations", json=[1, 2])
    check_page(response, status=405)


# -- Origin and Sec-Fetch-Site -------------------------------------------------------------


def _save_postcode(client: FlaskClient, headers: dict[str, str]):
    token = csrf_token(client, "/account/details")
    return client.post("/account/details", data={"csrf_token": token, "postcode": "LS2 7EW"}, headers=headers)


def _postcode(app: Flask, citizen: Citizen) -> str | None:
    with transaction(app.extensions["tellusonce.engine"], writer=False) as session:
        return session.scalars(select(Citizen.postcode).where(Citizen.id == citizen.id)).one()


@pytest.mark.parametrize("headers", [
    {"Origin": "https://attacker.example"},
    {"Origin": "http://localhost.attacker.example"},
    {"Origin": "http://localhost:8080"},
    {"Origin": "https://localhost"},
    {"Origin": "null"},
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site"},
    {"Origin": "http://localhost", "Sec-Fetch-Site": "cross-site"},
], ids=["other-site", "lookalike", "other-port", "other-scheme", "null", "cross-site", "same-site", "mixed"])
def test_a_form_sent_from_another_site_is_refused_even_with_the_cookie_and_token(
        app: Flask, client: FlaskClient, headers: dict[str, str]) -> None:
    citizen = signed_in(app, client)
    page = check_page(_save_postcode(client, headers), status=403)
    assert page_title(page).startswith("You cannot send this form from another website")
    assert _postcode(app, citizen) == "LS1 1AA"


@pytest.mark.parametrize("headers", [
    {},
    {"Origin": "http://localhost"},
    {"Origin": "HTTP://LOCALHOST:80"},
    {"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"},
    {"Sec-Fetch-Site": "none"},
], ids=["no-origin", "same-origin", "same-origin-default-port", "fetch-metadata", "typed"])
def test_a_form_sent_from_the_service_itself_or_without_an_origin_is_taken(
        app: Flask, client: FlaskClient, headers: dict[str, str]) -> None:
    citizen = signed_in(app, client)
    assert _save_postcode(client, headers).status_code == 302
    assert _postcode(app, citizen) == "LS2 7EW"


@pytest.fixture
def public_app(settings: Settings, engine: Engine, database_cleaner: Callable[[Engine], None]) -> Iterator[Flask]:
    """The app behind a proxy: its public address is not the host the request names."""
    app = create_app(dataclasses.replace(settings, public_url="https://tellusonce.example/"))
    yield app
    app.extensions["tellusonce.engine"].dispose()
    database_cleaner(engine)


def test_a_form_sent_from_the_configured_public_address_is_taken(public_app: Flask) -> None:
    client = public_app.test_client()
    citizen = signed_in(public_app, client)
    assert _save_postcode(client, {"Origin": "https://tellusonce.example"}).status_code == 302
    assert _postcode(public_app, citizen) == "LS2 7EW"
    assert _save_postcode(client, {"Origin": "https://tellusonce.example.attacker.example"}).status_code == 403


# -- digits --------------------------------------------------------------------------------


@pytest.mark.parametrize("postcode", ["LS١ ١AA", "LS１ １AA"], ids=["arabic-indic", "full-width"])
def test_your_details_refuse_a_postcode_in_other_digits_and_keep_the_old_one(
        app: Flask, client: FlaskClient, postcode: str) -> None:
    citizen = signed_in(app, client)
    page = check_page(post_form(client, "/account/details", {"postcode": postcode}), errors=True)
    assert _error_on(page, "postcode") == "Error: Enter a real postcode, like LS1 1AA"
    assert _postcode(app, citizen) == "LS1 1AA"


def test_a_phone_number_typed_in_other_digits_is_kept_in_ascii(app: Flask, client: FlaskClient) -> None:
    citizen = signed_in(app, client)
    assert post_form(client, "/account/details", {"phone": "٠٧٩١١ ١٢٣٤٥٦"}).status_code == 302
    with transaction(app.extensions["tellusonce.engine"], writer=False) as session:
        assert session.scalars(select(Citizen.phone).where(Citizen.id == citizen.id)).one() == "+447911123456"


@pytest.mark.parametrize("limit", ["²", "١٠", "１０"])
def test_the_api_takes_a_page_size_in_ascii_digits_only(client: FlaskClient, runner, limit: str) -> None:
    from tellusonce.cli import main

    key = runner.invoke(main, ["departments", "key", "dvla", "--label", "tests"]).output.strip().splitlines()[0]
    response = client.get(f"/api/v1/notifications?limit={limit}", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 400 and "limit must be a whole number" in response.json["error"]


# -- characters no one can type ------------------------------------------------------------


def test_your_details_keep_no_nul_or_other_control_character(app: Flask, client: FlaskClient) -> None:
    citizen = signed_in(app, client)
    response = post_form(client, "/account/details", {"address_line_1": "12 Hill\x00 Street\x07", "town": "Le\x1beds"})
    assert response.status_code == 302
    with transaction(app.extensions["tellusonce.engine"], writer=False) as session:
        saved = session.get_one(Citizen, citizen.id)
        assert (saved.address_line_1, saved.town) == ("12 Hill Street", "Leeds")


def test_a_report_sent_with_a_nul_in_an_answer_is_sent_without_it(app: Flask, client: FlaskClient) -> None:
    signed_in(app, client)
    response = report_a_move(client, new_address={"address_line_1": "4 Canal\x00 Wharf", "town": "Leeds\x00",
                                                  "postcode": "LS11 5PS"})
    assert response.status_code == 303  # to the confirmation
    with transaction(app.extensions["tellusonce.engine"], writer=False) as session:
        report = session.scalars(select(ChangeReport)).one()
        assert (report.answers["address_line_1"], report.answers["town"]) == ("4 Canal Wharf", "Leeds")


@pytest.mark.parametrize("path", ["/consents/dv%00la/change", "/consents/dv%00la/withdraw", "/report/confirmation/TUO%00",
                                  "/confirm-email-change/done/TUO%00", "/report/check/drop/dv%1Fla"])
def test_an_address_with_a_control_character_is_not_found(app: Flask, client: FlaskClient, path: str) -> None:
    signed_in(app, client)
    token = csrf_token(client, "/report/change")
    check_page(client.get(path), status=404)
    check_page(client.post(path, data={"csrf_token": token}), status=404)


def test_a_post_with_no_body_at_all_is_left_to_the_csrf_check(client: FlaskClient) -> None:
    page = check_page(client.post("/account/sign-in"), status=400)
    assert page_title(page).startswith("Your session has expired")
