"""Choosing Welsh or English: the link on every page, the cookie that remembers it, the browser's
Accept-Language when nobody has chosen, and emails queued in the language of the page."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from bs4 import BeautifulSoup, Tag
from flask import Flask
from flask.testing import FlaskClient

from tests.account_helpers import latest_email, post_form
from tests.journey_helpers import signed_in, start_change
from tests.page_checks import check_page

COOKIE = "tellusonce_language"  # named on the cookies page

WELSH_HOME = "Dweud wrth wasanaethau cyhoeddus am newid unwaith"
ENGLISH_HOME = "Tell public services about a change once"


def _h1(page: BeautifulSoup) -> str:
    return page.h1.get_text(" ", strip=True)


def _switch(page: BeautifulSoup) -> Tag:
    link = page.select_one(".app-language-switch a")
    assert link is not None, "no language link on the page"
    return link


def _choose(client: FlaskClient, page: BeautifulSoup) -> str:
    """Follow the page's language link; where it sends the browser back to."""
    response = client.get(_switch(page)["href"])
    assert response.status_code == 302
    return response.headers["Location"]


def test_the_start_page_is_in_welsh_when_the_browser_asks_for_welsh(client: FlaskClient) -> None:
    page = check_page(client.get("/", headers={"Accept-Language": "cy-GB,cy;q=0.9,en;q=0.5"}))
    assert page.html["lang"] == "cy"
    assert _h1(page) == WELSH_HOME
    assert page.title.get_text().startswith(f"{WELSH_HOME} – Dweud Wrthym Unwaith")


@pytest.mark.parametrize("accept", [None, "en-GB,en;q=0.8", "fr-FR,fr;q=0.9", "*"])
def test_the_start_page_is_in_english_unless_the_browser_asks_for_welsh(client: FlaskClient, accept: str | None) -> None:
    page = check_page(client.get("/", headers={"Accept-Language": accept} if accept else {}))
    assert page.html["lang"] == "en"
    assert _h1(page) == ENGLISH_HOME


def test_every_page_links_to_itself_in_the_other_language(client: FlaskClient) -> None:
    link = _switch(check_page(client.get("/organisations?change=address")))
    assert (link.get_text(strip=True), link["lang"], link["hreflang"]) == ("Cymraeg", "cy", "cy")
    address = urlsplit(link["href"])
    assert address.path == "/language/cy"
    assert parse_qs(address.query) == {"next": ["/organisations?change=address"]}

    welsh = check_page(client.get("/", headers={"Accept-Language": "cy"}))
    assert _switch(welsh).get_text(strip=True) == "English"
    assert _switch(welsh)["href"] == "/language/en?next=/"


def test_the_language_link_comes_back_to_the_same_page_in_the_chosen_language(client: FlaskClient) -> None:
    assert _choose(client, check_page(client.get("/cookies?from=footer"))) == "/cookies?from=footer"
    welsh = check_page(client.get("/cookies?from=footer"))
    assert welsh.html["lang"] == "cy"
    assert _h1(welsh) == "Cwcis"

    assert _choose(client, welsh) == "/cookies?from=footer"
    english = check_page(client.get("/cookies?from=footer"))
    assert (english.html["lang"], _h1(english)) == ("en", "Cookies")


def test_the_chosen_language_wins_over_what_the_browser_asks_for(client: FlaskClient) -> None:
    client.get("/language/en?next=/")
    page = check_page(client.get("/", headers={"Accept-Language": "cy"}))
    assert (page.html["lang"], _h1(page)) == ("en", ENGLISH_HOME)
    client.get("/language/cy?next=/")
    page = check_page(client.get("/", headers={"Accept-Language": "en"}))
    assert (page.html["lang"], _h1(page)) == ("cy", WELSH_HOME)


def test_the_choice_is_remembered_in_a_cookie_like_the_session_cookie(app: Flask, client: FlaskClient) -> None:
    response = client.get("/language/cy?next=/")
    header = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith(f"{COOKIE}="))
    attributes = {part.strip().split("=", 1)[0].lower() for part in header.split(";")}
    assert header.startswith(f"{COOKIE}=cy;")
    assert {"httponly", "path", "max-age"} <= attributes
    assert "samesite=lax" in header.lower()
    assert ("secure" in attributes) == app.config["SESSION_COOKIE_SECURE"]


def test_the_choice_survives_signing_out_and_in(app: Flask, client: FlaskClient) -> None:
    signed_in(app, client)
    client.get("/language/cy?next=/account/details")
    post_form(client, "/account/sign-out", {})
    page = check_page(client.get("/account/sign-in"))
    assert (page.html["lang"], _h1(page)) == ("cy", "Mewngofnodi")


@pytest.mark.parametrize("target", [
    "//evil.example", "https://evil.example", "https://evil.example/", "http:evil.example", "/\\evil.example", "\\\\evil.example",
    "/\t/evil.example", "/\n/evil.example", "/\x7f/evil.example", "javascript:alert(1)", "evil.example", "", " /",
])
def test_the_language_link_never_sends_anyone_to_another_site(client: FlaskClient, target: str) -> None:
    response = client.get("/language/cy", query_string={"next": target})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_the_language_link_without_a_next_goes_to_the_start_page(client: FlaskClient) -> None:
    response = client.get("/language/cy")
    assert (response.status_code, response.headers["Location"]) == (302, "/")


@pytest.mark.parametrize("code", ["fr", "CY", "cy-GB", "xx"])
def test_a_language_the_service_does_not_have_is_not_found(client: FlaskClient, code: str) -> None:
    response = client.get(f"/language/{code}?next=/")
    check_page(response, status=404)
    assert COOKIE not in (response.headers.get("Set-Cookie") or "")


def test_a_question_page_of_a_journey_is_in_welsh_and_keeps_its_answers(app: Flask, client: FlaskClient) -> None:
    signed_in(app, client)
    start_change(client, "address")
    post_form(client, "/report/questions/new-address",
              {"address_line_1": "4 Canal Wharf", "town": "Leeds", "postcode": "LS11 5PS"})
    client.get("/language/cy?next=/report/questions/new-address")
    page = check_page(client.get("/report/questions/new-address"))
    assert page.html["lang"] == "cy"
    assert _h1(page) == "Beth yw eich cyfeiriad newydd?"
    assert page.find("label", attrs={"for": "town"}).get_text(strip=True) == "Tref neu ddinas"
    assert page.find("input", attrs={"id": "address_line_1"})["value"] == "4 Canal Wharf"


def test_the_email_a_welsh_page_sends_is_queued_in_welsh(app: Flask, client: FlaskClient) -> None:
    headers = {"Accept-Language": "cy"}
    token = BeautifulSoup(client.get("/account/create", headers=headers).get_data(as_text=True), "html.parser")
    response = client.post("/account/create", headers=headers, data={
        "csrf_token": token.find("input", attrs={"name": "csrf_token"})["value"],
        "email": "gwen@example.com", "password": "correct horse battery staple",
    })
    assert response.status_code == 302
    email = latest_email(app, "gwen@example.com")
    assert (email.language, email.subject) == ("cy", "Cadarnhewch eich cyfeiriad e-bost")


def test_the_email_an_english_page_sends_is_queued_in_english(app: Flask, client: FlaskClient) -> None:
    post_form(client, "/account/create", {"email": "ada@example.com", "password": "correct horse battery staple"})
    email = latest_email(app, "ada@example.com")
    assert (email.language, email.subject) == ("en", "Confirm your email address")


@pytest.mark.parametrize(("accept", "purpose"), [
    ("en", "Remembers whether you chose to see the service in Welsh or English"),
    ("cy", "Mae’n cofio a wnaethoch chi ddewis gweld y gwasanaeth yn Gymraeg neu yn Saesneg"),
])
def test_the_cookies_page_names_the_language_cookie(client: FlaskClient, accept: str, purpose: str) -> None:
    page = check_page(client.get("/cookies", headers={"Accept-Language": accept}))
    row = next(tr for tr in page.select("tbody tr") if tr.find("code").get_text() == COOKIE)
    assert row.get_text(" ", strip=True).startswith(f"{COOKIE} {purpose}")


def test_switching_language_mid_journey_keeps_every_answer_so_far(app: Flask, client: FlaskClient) -> None:
    signed_in(app, client)
    start_change(client, "address")
    post_form(client, "/report/questions/new-address",
              {"address_line_1": "4 Canal Wharf", "town": "Leeds", "postcode": "LS11 5PS"})
    post_form(client, "/report/questions/move-date", {"move_date": ["1", "11", "2026"]})
    page = check_page(client.get("/report/questions/previous-address"))
    assert _choose(client, page) == "/report/questions/previous-address"
    welsh = check_page(client.get("/report/questions/move-date"))
    assert welsh.html["lang"] == "cy"
    assert [welsh.find("input", attrs={"id": f"move_date-{part}"})["value"] for part in ("day", "month", "year")] == [
        "01", "11", "2026"]
    back = check_page(client.get("/report/questions/new-address"))
    assert back.find("input", attrs={"id": "postcode"})["value"] == "LS11 5PS"
