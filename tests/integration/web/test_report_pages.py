"""A question page's form is made once a process for each page and language
(tellusonce/web/report_pages.py): each language keeps its own labels and hints."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from tests.journey_helpers import signed_in, start_change

PAGE = "/report/questions/new-address"


def _labels(client: FlaskClient, language: str) -> str:
    client.set_cookie("tellusonce_language", language)  # the page's language link chose it
    response = client.get(PAGE)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_a_question_page_in_welsh_after_one_in_english_has_welsh_labels(app: Flask, client: FlaskClient) -> None:
    signed_in(app, client)
    start_change(client, "address")
    english = _labels(client, "en")
    assert "Town or city" in english and "Building and street" in english
    welsh = _labels(client, "cy")
    assert "Cod post" in welsh and "Adeilad a stryd" in welsh
    assert "Town or city" not in welsh and "Building and street" not in welsh
    assert "Town or city" in _labels(client, "en")
