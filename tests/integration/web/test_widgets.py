"""What is kept once a process with a hole for the visitor's piece (tellusonce/web/widgets.py, the
service navigation in base.html) is the HTML rendered in full, byte for byte."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from govuk_frontend_wtf.wtforms_widgets import GovTextInput
from wtforms import Form, StringField

from tellusonce.web.fragments import EXTENSION, HOLE
from tellusonce.web.widgets import KeptTextInput
from tests.journey_helpers import signed_in, start_change

PAGE = "/report/questions/new-address"
ANSWERS = ["", "4 Canal Wharf", "Flat 2 & 3, O'Neil \"House\" <b>", "Tŷ Gwyn, Heol y Bont", "tellusonce-hole"]


def _forms(value: str) -> tuple[StringField, StringField]:
    class Kept(Form):
        town = StringField("Town or city", widget=KeptTextInput(), description="As on your post")

    class Full(Form):
        town = StringField("Town or city", widget=GovTextInput(), description="As on your post")

    return Kept(data={"town": value}).town, Full(data={"town": value}).town


@pytest.mark.parametrize("answer", ANSWERS)
def test_a_kept_text_input_is_the_input_rendered_in_full(app: Flask, answer: str) -> None:
    params = {"classes": "govuk-!-width-two-thirds", "attributes": {"autocomplete": "address-level2"}}
    with app.test_request_context("/"):
        for _ in range(2):  # rendered and kept, then from what was kept
            kept, full = _forms(answer)
            assert str(kept(params=params)) == str(full(params=params))
        assert len(app.extensions[EXTENSION]) == 1
        kept, full = _forms(answer)
        kept.errors = full.errors = ["Enter a town or city"]  # shown with an error: rendered in full
        assert str(kept(params=params)) == str(full(params=params))


def _normalised(html: str) -> str:
    """The page without what differs between any two requests: the CSRF token's signature time and
    the CSP nonce."""
    html = re.sub(r'(name="csrf_token"(?: type="hidden")? value=")[^"]+', r"\1…", html)
    return re.sub(r'nonce="[^"]+"', 'nonce="…"', html)


def test_a_question_page_is_the_page_rendered_in_full(app: Flask, client: FlaskClient) -> None:
    signed_in(app, client)
    start_change(client, "address")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', client.get(PAGE).get_data(as_text=True))
    assert token
    answer = {"address_line_1": ANSWERS[2], "town": "Leeds", "postcode": "LS11 5PS"}
    assert client.post(PAGE, data={"csrf_token": token.group(1), **answer}).status_code == 302
    pages = {}
    for language in ("en", "cy"):
        client.set_cookie("tellusonce_language", language)
        client.get(PAGE)  # kept
        pages[language] = client.get(PAGE).get_data(as_text=True)  # from what was kept
        assert "Flat 2 &amp; 3, O&#39;Neil &#34;House&#34; &lt;b&gt;" in pages[language]
        assert "Sign out" in pages[language] or "Allgofnodi" in pages[language]
        assert str(HOLE) not in pages[language]
    assert len(app.extensions[EXTENSION]) > 0
    app.jinja_env.auto_reload = True  # nothing kept: every part rendered in full
    for language in ("en", "cy"):
        client.set_cookie("tellusonce_language", language)
        assert _normalised(client.get(PAGE).get_data(as_text=True)) == _normalised(pages[language])


def test_the_service_navigation_marks_the_section_of_each_page(app: Flask, client: FlaskClient) -> None:
    signed_in(app, client)
    current = re.compile(r'<a class="govuk-service-navigation__link" href="([^"]+)" aria-current="(\w+)"')
    for _ in range(2):  # rendered and kept, then from what was kept
        assert current.findall(client.get("/report").get_data(as_text=True)) == [("/report", "page")]
        assert current.findall(client.get("/changes").get_data(as_text=True)) == [("/changes", "page")]
        assert current.findall(client.get("/report/change").get_data(as_text=True)) == [("/report", "true")]
    client.post("/account/sign-out", data={"csrf_token": re.search(
        r'name="csrf_token" value="([^"]+)"', client.get("/report").get_data(as_text=True)).group(1)})  # type: ignore[union-attr]
    signed_out = client.get("/").get_data(as_text=True)
    assert "Sign out" not in signed_out and "Sign in" in signed_out
