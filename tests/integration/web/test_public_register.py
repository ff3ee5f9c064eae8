"""The open register (/organisations) as the service's record of recipients: each organisation's
lawful basis and retention in both languages, "Not stated" where the registry says nothing."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.english_left import english_on_page
from tests.page_checks import check_page

WELSH = {"Accept-Language": "cy"}


def _processing(page, department_id: str) -> dict[str, str]:
    rows = page.select(f"#org-{department_id}-processing .govuk-summary-list__row")
    return {row.select_one("dt").get_text(strip=True): row.select_one("dd").get_text(" ", strip=True) for row in rows}


def test_the_register_shows_each_organisations_lawful_basis_and_retention(client: FlaskClient,
                                                                        shipped_registry: None) -> None:
    page = check_page(client.get("/organisations"))
    assert "our record of who receives your information" in page.get_text(" ", strip=True)
    assert _processing(page, "hmrc") == {
        "Lawful basis": "Public task (UK GDPR Article 6(1)(e)): collecting tax and paying Child Benefit under the "
                        "Taxes Management Act 1970 and the Social Security Contributions and Benefits Act 1992.",
        "How long it keeps your details": "For the current tax year and the 6 years before it.",
    }
    welsh = client.get("/organisations", headers=WELSH)
    welsh_page = check_page(welsh)
    assert _processing(welsh_page, "hmrc") == {
        "Sail gyfreithlon": "Tasg gyhoeddus (Erthygl 6(1)(e) GDPR y DU): casglu treth a thalu Budd-dal Plant o dan "
                            "Ddeddf Rheoli Trethi 1970 a Deddf Cyfraniadau a Budd-daliadau Nawdd Cymdeithasol 1992.",
        "Am ba hyd y mae’n cadw eich manylion": "Ar gyfer y flwyddyn dreth bresennol a’r 6 blynedd cyn hynny.",
    }
    html = welsh.get_data(as_text=True)
    assert not english_on_page(html)


def test_what_an_organisation_does_not_state_is_said_and_missing_welsh_is_marked_english(
        client: FlaskClient, tv_licensing_states_nothing: None) -> None:
    page = check_page(client.get("/organisations"))
    assert _processing(page, "tv-licensing") == {"Lawful basis": "Not stated by the organisation",
                                                 "How long it keeps your details": "Not stated by the organisation"}
    welsh = check_page(client.get("/organisations", headers=WELSH))
    assert set(_processing(welsh, "tv-licensing").values()) == {"Heb ei nodi gan y sefydliad"}
    retention = welsh.select("#org-hmrc-processing dd")[1]
    assert retention.select_one('[lang="en"]').get_text(strip=True) == "For the current tax year and the 6 years before it."


def test_the_register_as_json_carries_the_stated_fields(client: FlaskClient, shipped_registry: None) -> None:
    [dwp] = [o for o in client.get("/organisations.json").get_json()["organisations"] if o["id"] == "dwp"]
    assert dwp["lawful_basis"].startswith("Public task") and dwp["lawful_basis_cy"].startswith("Tasg gyhoeddus")
    assert dwp["retention"].startswith("For as long as you receive") and dwp["retention_cy"]
