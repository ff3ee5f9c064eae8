"""The public pages: start page, open register, schemas, and the footer's pages."""

from __future__ import annotations

import json

import pytest
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from page_checks import check_page, page_title

from tellusonce.domain.changetypes import CHANGE_TYPES

PUBLIC_PAGES = ["/", "/organisations", "/schemas/", "/accessibility", "/privacy", "/cookies"]


@pytest.mark.parametrize("path", PUBLIC_PAGES)
def test_every_public_page_is_a_well_formed_govuk_page(client: FlaskClient, path: str) -> None:
    page = check_page(client.get(path))
    assert page.select_one(".govuk-skip-link")["href"] == "#main-content"
    assert page.select_one(".govuk-phase-banner") is not None
    footer_links = {a["href"] for a in page.select(".govuk-footer__meta a")}
    assert {"/organisations", "/accessibility", "/privacy", "/cookies"} <= footer_links


def test_the_start_page_explains_the_service_and_has_a_start_button(client: FlaskClient) -> None:
    page = check_page(client.get("/"))
    assert page_title(page) == "Tell public services about a change once – Tell us once – GOV.UK"
    start = page.select_one("a.govuk-button--start")
    assert start is not None and start["href"]
    text = page.get_text(" ")
    for change_type in CHANGE_TYPES.values():
        assert change_type.label in text
    assert "Driver and Vehicle Licensing Agency (DVLA)" in text


def test_signed_out_visitors_are_offered_sign_in_in_the_navigation(client: FlaskClient) -> None:
    page = check_page(client.get("/"))
    nav = [a.get_text(strip=True) for a in page.select(".govuk-service-navigation__link")]
    assert "Sign in" in nav and "Create an account" in nav
    assert "Sign out" not in nav


def test_the_open_register_lists_what_each_organisation_receives_and_why(client: FlaskClient) -> None:
    page = check_page(client.get("/organisations"))
    dvla = page.find(id="org-dvla").find_parent("section")
    text = dvla.get_text(" ")
    assert "Moving home" in text and "Postcode" in text
    assert "The law says your driving licence and vehicle log book must show your current address." in text
    # DVLA is not told about contact details, so that change is not listed for it.
    assert "New contact details" not in text


def test_the_open_register_is_published_as_json_with_field_labels(client: FlaskClient) -> None:
    response = client.get("/organisations.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    organisations = {o["id"]: o for o in response.json["organisations"]}
    assert len(organisations) >= 8
    hmrc_address = next(r for r in organisations["hmrc"]["receives"] if r["change_type"] == "address")
    assert {"name": "ni_number", "label": "National Insurance number"} in hmrc_address["fields"]
    assert hmrc_address["schema"] == "http://127.0.0.1:5000/schemas/events/address.v1.json"
    assert hmrc_address["change_schema"] == "http://127.0.0.1:5000/schemas/address.json"
    assert hmrc_address["reason"]


@pytest.mark.parametrize("type_id", sorted(CHANGE_TYPES))
def test_each_change_type_schema_is_served_as_a_valid_json_schema(client: FlaskClient, type_id: str) -> None:
    response = client.get(f"/schemas/{type_id}.json")
    assert response.status_code == 200
    assert response.mimetype == "application/schema+json"
    schema = json.loads(response.get_data(as_text=True))
    Draft202012Validator.check_schema(schema)
    assert schema["$id"] == f"http://127.0.0.1:5000/schemas/{type_id}.json"
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) == set(CHANGE_TYPES[type_id].field_names)


@pytest.mark.parametrize("type_id", sorted(CHANGE_TYPES))
def test_each_event_data_schema_is_served_with_the_receipt_id_and_only_fields_some_organisation_receives(
        client: FlaskClient, type_id: str) -> None:
    response = client.get(f"/schemas/events/{type_id}.v1.json")
    assert response.status_code == 200 and response.mimetype == "application/schema+json"
    schema = json.loads(response.get_data(as_text=True))
    Draft202012Validator.check_schema(schema)
    assert schema["$id"] == f"http://127.0.0.1:5000/schemas/events/{type_id}.v1.json"
    received = {name for o in client.get("/organisations.json").json["organisations"]
                for r in o["receives"] if r["change_type"] == type_id for name in (f["name"] for f in r["fields"])}
    told_when_protected = {"protected_address"} if type_id == "address" else set()
    told_language = {"language"} if any(
        o["receives_language"] for o in client.get("/organisations.json").json["organisations"]
        if any(r["change_type"] == type_id for r in o["receives"])) else set()
    assert set(schema["properties"]) == received | told_when_protected | told_language | {"consent_receipt_id"}
    assert "consent_receipt_id" in schema["required"] and schema["additionalProperties"] is False


def test_the_death_event_schema_requires_only_what_every_organisation_told_of_a_death_receives(client: FlaskClient) -> None:
    schema = client.get("/schemas/events/death.v1.json").json
    # Every organisation told of a death gets the name and the date of death; the councils and TV
    # Licensing are not given the date of birth, nor HM Passport Office the last address.
    assert schema["required"] == ["deceased_given_names", "deceased_family_name", "date_of_death", "consent_receipt_id"]
    assert schema["properties"]["deceased_postcode"]["format"] == "uk-postcode"


def test_the_address_event_schema_does_not_require_an_address_that_protection_withholds(client: FlaskClient) -> None:
    schema = client.get("/schemas/events/address.v1.json").json
    assert "postcode" not in schema["required"] and "move_date" in schema["required"]
    assert schema["properties"]["protected_address"]["type"] == "boolean"


def test_the_consent_receipt_schema_is_published(client: FlaskClient) -> None:
    response = client.get("/schemas/consent-receipt.v1.json")
    assert response.status_code == 200 and response.mimetype == "application/schema+json"
    schema = json.loads(response.get_data(as_text=True))
    Draft202012Validator.check_schema(schema)
    assert schema["$id"] == "http://127.0.0.1:5000/schemas/consent-receipt.v1.json"
    assert {"receiptId", "timestamp", "dataController", "purpose", "dataCategories", "recipient", "duration",
            "howToWithdraw"} <= set(schema["required"])


@pytest.mark.parametrize("path", ["/schemas/marriage.json", "/schemas/events/marriage.v1.json"])
def test_an_unknown_schema_is_not_found(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.json["status"] == 404


def test_the_schema_index_links_every_schema(client: FlaskClient) -> None:
    page = check_page(client.get("/schemas/"))
    links = {a["href"] for a in page.select("main a")}
    assert {f"/schemas/{t}.json" for t in CHANGE_TYPES} <= links
    assert {f"/schemas/events/{t}.v1.json" for t in CHANGE_TYPES} <= links
    assert "/schemas/consent-receipt.v1.json" in links


def test_the_cookies_page_names_the_one_cookie_the_service_sets(client: FlaskClient) -> None:
    page = check_page(client.get("/cookies"))
    assert "tellusonce_session" in page.get_text()


def test_pages_carry_a_csp_without_unsafe_inline_and_the_template_script_has_its_nonce(client: FlaskClient) -> None:
    response = client.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp
    page = check_page(response)
    inline = [s for s in page.find_all("script") if not s.get("src")]
    assert len(inline) == 1 and f"'nonce-{inline[0]['nonce']}'" in csp
