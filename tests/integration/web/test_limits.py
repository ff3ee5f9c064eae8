"""The rate limits of the signed-in account forms: per client, per account, per address typed."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator

import pytest
from account_helpers import PASSWORD, make_citizen, post_form, sign_in
from flask import Flask
from page_checks import check_page
from sqlalchemy import Engine

from tellusonce import create_app
from tellusonce.settings import Settings


@pytest.fixture
def strict_app(settings: Settings, engine: Engine, database_cleaner: Callable[[Engine], None]) -> Iterator[Flask]:
    app = create_app(dataclasses.replace(settings, account_rate_limit="20 per minute",
                                         account_rate_limit_per_address="3 per minute"))
    yield app
    app.extensions["tellusonce.engine"].dispose()
    database_cleaner(engine)


def test_wrong_current_passwords_are_paused_per_account(strict_app: Flask) -> None:
    make_citizen(strict_app)
    client = strict_app.test_client()
    sign_in(client)
    form = {"current_password": "not my password", "password": "purple elephant umbrella"}
    statuses = [post_form(client, "/account/details/password", form).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    check_page(post_form(client, "/account/details/password", form), status=429)
    # Another browser of the same account is counted with it; another account is not.
    other_browser = strict_app.test_client()
    sign_in(other_browser)
    assert post_form(other_browser, "/account/details/password", form).status_code == 429
    make_citizen(strict_app, "grace@example.com", given_names="Grace")
    grace = strict_app.test_client()
    sign_in(grace, "grace@example.com")
    assert post_form(grace, "/account/details/password", form).status_code == 200


def test_asking_to_change_the_email_address_is_limited_per_account(strict_app: Flask) -> None:
    make_citizen(strict_app)
    client = strict_app.test_client()
    sign_in(client)
    statuses = [post_form(client, "/account/details/email", {"email": f"new{n}@example.com", "password": PASSWORD}
                          ).status_code for n in range(4)]
    assert statuses == [302, 302, 302, 429]


def test_one_mailbox_cannot_be_sent_a_flood_of_links_from_many_accounts(strict_app: Flask) -> None:
    statuses = []
    for n in range(4):
        make_citizen(strict_app, f"person{n}@example.com", given_names=f"Person{n}")
        client = strict_app.test_client()
        sign_in(client, f"person{n}@example.com")
        statuses.append(post_form(client, "/account/details/email",
                                  {"email": "victim@example.com", "password": PASSWORD}).status_code)
    assert statuses == [302, 302, 302, 429]
