"""GOV.UK Frontend in Welsh: every component text GOV.UK writes in English by default (the skip
link, the navigation, the footer, error messages, date and password inputs, the back link,
pagination) is Welsh on a Welsh page and stays English on an English one."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import force_locale

from tellusonce.web.track import pagination
from tests.account_helpers import csrf_token, make_citizen, sign_in
from tests.journey_helpers import signed_in, start_change
from tests.page_checks import check_page

WELSH = {"Accept-Language": "cy"}


def _text(page: BeautifulSoup, selector: str) -> str:
    found = page.select_one(selector)
    assert found is not None, f"nothing matches {selector}"
    return found.get_text(" ", strip=True)


def _welsh(client: FlaskClient, path: str) -> BeautifulSoup:
    client.get(f"/language/cy?next={path}")
    page = check_page(client.get(path))
    assert page.html["lang"] == "cy"
    return page


def test_the_page_shell_is_in_welsh_on_a_welsh_page(client: FlaskClient) -> None:
    page = check_page(client.get("/", headers=WELSH))
    assert _text(page, ".govuk-skip-link") == "Neidio i’r prif gynnwys"
    assert page.select_one(".govuk-service-navigation")["aria-label"] == "Gwybodaeth am y gwasanaeth"
    assert _text(page, ".govuk-service-navigation__service-name") == "Dweud Wrthym Unwaith"
    assert _text(page, ".govuk-service-navigation__toggle") == "Dewislen"
    assert page.select_one(".govuk-service-navigation nav")["aria-label"] == "Dewislen"
    assert _text(page, ".govuk-phase-banner__content__tag") == "Beta"
    assert _text(page, ".govuk-phase-banner__text").startswith("Mae hwn yn wasanaeth newydd.")
    assert _text(page, ".govuk-footer__meta h2.govuk-visually-hidden") == "Dolenni cymorth"
    assert _text(page, ".govuk-footer__licence-description").startswith(
        "Mae’r holl gynnwys ar gael o dan y Drwydded Llywodraeth Agored v3.0")
    assert _text(page, ".govuk-footer__copyright-logo") == "© Hawlfraint y Goron"
    assert [a.get_text(strip=True) for a in page.select(".govuk-footer__inline-list a")][:2] == [
        "Sefydliadau rydyn ni’n dweud wrthyn nhw", "Sgemâu newidiadau ar gyfer datblygwyr"]


def test_the_page_shell_stays_in_english_on_an_english_page(client: FlaskClient) -> None:
    page = check_page(client.get("/"))
    assert _text(page, ".govuk-skip-link") == "Skip to main content"
    assert _text(page, ".govuk-service-navigation__toggle") == "Menu"
    assert _text(page, ".govuk-footer__copyright-logo") == "© Crown copyright"


def test_an_error_summary_and_its_messages_are_in_welsh(client: FlaskClient) -> None:
    client.get("/language/cy?next=/account/sign-in")
    response = client.post("/account/sign-in", data={"csrf_token": csrf_token(client, "/account/sign-in"),
                                                     "email": "", "password": ""})
    page = check_page(response, status=200, errors=True)
    assert page.title.get_text().startswith("Gwall: Mewngofnodi")
    assert _text(page, ".govuk-error-summary__title") == "Mae yna broblem"
    assert [a.get_text(strip=True) for a in page.select(".govuk-error-summary__list a")] == [
        "Rhowch eich cyfeiriad e-bost", "Rhowch eich cyfrinair"]
    assert [_text(p, ".govuk-visually-hidden") for p in page.select(".govuk-error-message")] == ["Gwall:", "Gwall:"]


def test_an_error_message_keeps_its_english_prefix_on_an_english_page(client: FlaskClient) -> None:
    response = client.post("/account/sign-in", data={"csrf_token": csrf_token(client, "/account/sign-in"),
                                                     "email": "", "password": ""})
    page = check_page(response, status=200, errors=True)
    assert _text(page, ".govuk-error-summary__title") == "There is a problem"
    assert {_text(p, ".govuk-visually-hidden") for p in page.select(".govuk-error-message")} == {"Error:"}


def test_the_password_input_shows_and_hides_in_welsh(client: FlaskClient) -> None:
    page = _welsh(client, "/account/sign-in")
    wrapper = page.select_one(".govuk-password-input")
    assert {k: v for k, v in wrapper.attrs.items() if k.startswith("data-i18n")} == {
        "data-i18n.show-password": "Dangos",
        "data-i18n.hide-password": "Cuddio",
        "data-i18n.show-password-aria-label": "Dangos y cyfrinair",
        "data-i18n.hide-password-aria-label": "Cuddio’r cyfrinair",
        "data-i18n.password-shown-announcement": "Mae eich cyfrinair yn weladwy",
        "data-i18n.password-hidden-announcement": "Mae eich cyfrinair wedi’i guddio",
    }
    button = page.select_one(".govuk-password-input__toggle")
    assert (button.get_text(strip=True), button["aria-label"]) == ("Dangos", "Dangos y cyfrinair")


def test_a_date_input_and_a_back_link_are_in_welsh_on_a_question_page(app: Flask, client: FlaskClient) -> None:
    signed_in(app, client)
    start_change(client, "address")
    page = _welsh(client, "/report/questions/move-date")
    assert [label.get_text(strip=True) for label in page.select(".govuk-date-input label")] == [
        "Diwrnod", "Mis", "Blwyddyn"]
    assert _text(page, ".govuk-back-link") == "Yn ôl"
    assert _text(page, "h1") == "Symud tŷ Pryd wnaethoch chi symud?"  # the caption, then the question


def test_a_date_left_half_written_is_explained_in_welsh(app: Flask, client: FlaskClient) -> None:
    signed_in(app, client)
    start_change(client, "address")
    _welsh(client, "/report/questions/move-date")
    response = client.post("/report/questions/move-date", data={
        "csrf_token": csrf_token(client, "/report/questions/move-date"), "move_date": ["1", "", "2026"]})
    page = check_page(response, status=200, errors=True)
    assert _text(page, ".govuk-error-summary__title") == "Mae yna broblem"
    assert _text(page, ".govuk-error-message") == "Gwall: Dyddiad symud: rhaid cynnwys mis"


@pytest.mark.parametrize(("language", "labels"), [("cy", ["Tudalen 1", "Tudalen 2", "Tudalen 3"]),
                                                  ("en", ["Page 1", "Page 2", "Page 3"])])
def test_page_numbers_are_named_in_the_page_language(app: Flask, language: str, labels: list[str]) -> None:
    with app.test_request_context("/changes?page=2"), force_locale(language):
        params = pagination("track.changes", 2, 3)
        html = app.jinja_env.from_string(
            '{% from "govuk_frontend_jinja/components/pagination/macro.html" import govukPagination %}'
            "{{ govukPagination(params) }}").render(params=params)
    page = BeautifulSoup(html, "html.parser")
    assert [a["aria-label"] for a in page.select(".govuk-pagination__item a")] == labels


def test_signed_in_pages_are_in_welsh_too(app: Flask, client: FlaskClient) -> None:
    make_citizen(app)
    sign_in(client)
    page = _welsh(client, "/account/details")
    assert _text(page, "h1") == "Eich manylion"
    assert [a.get_text(strip=True) for a in page.select(".govuk-service-navigation__item a")][:2] == [
        "Rhoi gwybod am newid", "Eich newidiadau"]
    assert _text(page, ".app-link-button") == "Allgofnodi"
