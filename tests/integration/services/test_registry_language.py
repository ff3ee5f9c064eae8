"""Departments are told the language the citizen wants them to write in, where the registry
grants it (``receives_language``), so that they can write back in Welsh."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import force_locale
from sqlalchemy import select, update

from tellusonce.clock import utcnow
from tellusonce.db import transaction
from tellusonce.models import Notification
from tellusonce.settings import PROJECT_ROOT
from tellusonce.web.track import CSV_COLUMNS
from tellusonce_services.registry import RegistryError, load_registry
from tests.journey_helpers import report_a_move, signed_in
from tests.page_checks import check_page

REGISTRY = PROJECT_ROOT / "config" / "departments.toml"


def _payloads(app: Flask) -> dict[str, dict]:
    with transaction(app.extensions["tellusonce.engine"], writer=False) as session:
        return {n.department_id: n.payload for n in session.scalars(select(Notification))}


def test_the_registry_grants_the_language_to_some_departments() -> None:
    granted = {d.id for d in load_registry(REGISTRY).departments if d.receives_language}
    assert {"dwp", "hmpo"} <= granted
    assert "dvla" not in granted


def test_a_welsh_accounts_language_is_sent_only_where_granted(app: Flask, client: FlaskClient) -> None:
    signed_in(app, client, language="cy")
    client.get("/language/en?next=/")  # the page's language is not what they asked to be written to in
    report_a_move(client, recipients=["dvla", "dwp"])
    payloads = _payloads(app)
    assert payloads["dwp"]["language"] == "cy"
    assert "language" not in payloads["dvla"]


def test_an_english_account_is_sent_as_english(app: Flask, client: FlaskClient) -> None:
    signed_in(app, client)
    report_a_move(client, recipients=["dwp"])
    assert _payloads(app)["dwp"]["language"] == "en"


def test_the_grant_must_be_true_or_false(tmp_path: Path) -> None:
    text = REGISTRY.read_text(encoding="utf-8").replace('id = "dvla"\n', 'id = "dvla"\nreceives_language = "yes"\n', 1)
    broken = tmp_path / "departments.toml"
    broken.write_text(text, encoding="utf-8")
    with pytest.raises(RegistryError, match="receives_language.*must be true or false"):
        load_registry(broken)


def test_the_citizen_reads_that_their_language_was_sent_in_welsh_on_the_page_and_in_the_csv(
        app: Flask, client: FlaskClient) -> None:
    signed_in(app, client, language="cy")
    report_a_move(client, recipients=["dwp"])
    with transaction(app.extensions["tellusonce.engine"]) as session:
        session.execute(update(Notification).values(state="delivered", delivered_at=utcnow()))
    client.get("/language/cy?next=/")
    told = check_page(client.get("/who-has-been-told")).get_text(" ", strip=True)
    assert "Yr iaith i ysgrifennu atoch chi ynddi" in told

    download = client.get("/who-has-been-told.csv").get_data().decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(download, newline="")))
    with app.test_request_context(), force_locale("cy"):
        headings = [str(column) for column in CSV_COLUMNS]
    assert list(rows[0]) == headings and headings[0] != "Date sent"
    detail, value = headings[4], headings[5]
    sent = {row[detail]: row[value] for row in rows}
    assert sent["Yr iaith i ysgrifennu atoch chi ynddi"] == "cy"
    assert "language" not in sent
