"""Error pages: every error a stranger can cause gets a GOV.UK page saying what to do."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator

import pytest
from account_helpers import post_form
from flask import Flask
from flask.testing import FlaskClient
from page_checks import check_page, page_title
from sqlalchemy import Engine

from tellusonce import create_app
from tellusonce.settings import Settings


def test_a_form_sent_without_its_csrf_token_says_the_session_expired_with_a_way_back(client: FlaskClient) -> None:
    response = client.post("/account/sign-in", data={"email": "ada@example.com", "password": "x" * 12})
    page = check_page(response, status=400)
    assert page_title(page).startswith("Your session has expired")
    back = page.find("a", string=lambda s: s and "Go back to the page" in s)
    assert back["href"] == "/account/sign-in"


def test_a_form_with_a_forged_csrf_token_is_refused(client: FlaskClient) -> None:
    client.get("/account/sign-in")
    response = client.post("/account/sign-in", data={"csrf_token": "forged", "email": "a@example.com", "password": "x"})
    check_page(response, status=400)


def test_an_unknown_page_is_a_govuk_404(client: FlaskClient) -> None:
    page = check_page(client.get("/no/such/page"), status=404)
    assert page_title(page).startswith("Page not found")


def test_posting_to_a_page_that_only_shows_things_is_a_405_with_allow(client: FlaskClient) -> None:
    response = client.post("/organisations")
    check_page(response, status=405)
    assert "GET" in response.headers["Allow"]


def test_a_request_too_large_is_a_413_page(client: FlaskClient) -> None:
    response = client.post("/account/sign-in", data={"email": "a" * (2 * 1024 * 1024)})
    page = check_page(response, status=413)
    assert page_title(page).startswith("What you sent is too large")


def test_errors_under_the_api_are_json(client: FlaskClient) -> None:
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404 and response.json["status"] == 404


def _app_with(settings: Settings, **changes: object) -> Flask:
    return create_app(dataclasses.replace(settings, **changes))


@pytest.fixture
def strict_app(settings: Settings, engine: Engine, database_cleaner: Callable[[Engine], None]) -> Iterator[Flask]:
    """The app with low account rate limits, and a page that fails, shown as it is in production."""
    app = _app_with(settings, account_rate_limit="3 per minute", account_rate_limit_per_address="2 per minute")

    def broken() -> str:
        raise RuntimeError("the database fell over")

    app.add_url_rule("/broken", view_func=broken)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    yield app
    app.extensions["tellusonce.engine"].dispose()
    database_cleaner(engine)


def test_too_many_sign_in_attempts_for_one_address_are_paused_with_a_429_page(strict_app: Flask) -> None:
    client = strict_app.test_client()
    for _ in range(2):
        post_form(client, "/account/sign-in", {"email": "ada@example.com", "password": "wrong password!"})
    response = post_form(client, "/account/sign-in", {"email": "ada@example.com", "password": "wrong password!"})
    page = check_page(response, status=429)
    assert page_title(page).startswith("Too many attempts")
    assert "Retry-After" in response.headers
    # Reading the page is never limited.
    check_page(client.get("/account/sign-in"))


def test_registration_and_reset_are_limited_per_client(strict_app: Flask) -> None:
    client = strict_app.test_client()
    for path in ("/account/create", "/account/reset-password"):
        statuses = [
            post_form(client, path, {"email": f"person{i}@example.com", "password": "x"}).status_code
            for i in range(4)
        ]
        assert statuses[:3] != [429] * 3 and statuses[3] == 429, (path, statuses)


def test_an_unexpected_failure_is_a_500_page_that_rolls_back(strict_app: Flask) -> None:
    page = check_page(strict_app.test_client().get("/broken"), status=500)
    assert page_title(page).startswith("Sorry, there is a problem with the service")
