"""The open register as the service's record of recipients: each organisation's lawful basis and
retention, as it states them in the registry (``lawful_basis``, ``retention`` and their Welsh),
checked like every other field, stored, shown on /organisations in both languages ("Not stated"
where the registry says nothing, flagged by ``departments list``), and linked from /privacy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.cli import ScriptInfo
from flask.testing import FlaskClient
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from tellusonce.cli import main
from tellusonce.db import transaction
from tellusonce.models import Department
from tellusonce.settings import PROJECT_ROOT
from tellusonce_services.registry import RegistryError, load_registry, sync_registry
from tests.conftest import REGISTRY
from tests.english_left import english_on_page
from tests.page_checks import check_page

WELSH = {"Accept-Language": "cy"}
PRODUCTION = PROJECT_ROOT / "config" / "departments.production.example.toml"


def _registry_with(tmp_path: Path, old: str, new: str) -> Path:
    path = tmp_path / "departments.toml"
    text = REGISTRY.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize("registry", [REGISTRY, PRODUCTION], ids=["demo", "production example"])
def test_every_shipped_department_states_its_lawful_basis_and_retention_in_both_languages(registry: Path) -> None:
    for entry in load_registry(registry).departments:
        assert entry.lawful_basis and entry.lawful_basis_cy and entry.lawful_basis != entry.lawful_basis_cy, entry.id
        assert entry.retention and entry.retention_cy and entry.retention != entry.retention_cy, entry.id
    assert load_registry(registry).get("leeds-electoral-registration").lawful_basis.startswith("Legal obligation")


def _line_replaced(tmp_path: Path, starts: str, new: str) -> Path:
    """The shipped registry with the line that starts ``starts`` replaced by ``new`` (or removed)."""
    lines = REGISTRY.read_text(encoding="utf-8").splitlines(keepends=True)
    index = next(i for i, line in enumerate(lines) if line.startswith(starts))
    lines[index] = new + "\n" if new else ""
    path = tmp_path / "departments.toml"
    path.write_text("".join(lines), encoding="utf-8")
    return path


def _line_of(path: Path, starts: str) -> int:
    return next(i for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
                if line.startswith(starts))


@pytest.mark.parametrize(
    ("starts", "new", "message"),
    [
        ('lawful_basis = "Public task (UK GDPR Article 6(1)(e)): issuing', 'lawful_basis = "  "',
         "department 'hmpo', field 'lawful_basis': must be a non-empty string"),
        ('retention = "For the current tax year', "retention = 6",
         "department 'hmrc', field 'retention': must be a non-empty string"),
        ('retention = "For as long as a licence', 'retention_period = "6 years"',
         "department 'tv-licensing', field 'retention_period': unknown field (did you mean 'retention'?)"),
        ('lawful_basis = "Public task (UK GDPR Article 6(1)(e)): administering', 'lawfull_basis = "Public task"',
         "department 'tv-licensing', field 'lawfull_basis': unknown field (did you mean 'lawful_basis'?)"),
    ],
)
def test_a_mistake_in_the_stated_fields_names_the_line_department_and_field(
        tmp_path: Path, starts: str, new: str, message: str) -> None:
    path = _line_replaced(tmp_path, starts, new)
    with pytest.raises(RegistryError) as caught:
        load_registry(path)
    assert message in str(caught.value)
    assert str(caught.value).startswith(f"{path}:{_line_of(path, new)}:")


def test_the_welsh_of_a_stated_field_needs_its_english(tmp_path: Path) -> None:
    path = _line_replaced(tmp_path, 'retention = "For as long as a licence', "")
    with pytest.raises(RegistryError, match=r"department 'tv-licensing', field 'retention_cy': is the Welsh of "
                                            r"'retention', which is missing: give the English too\.$") as caught:
        load_registry(path)
    line = _line_of(path, 'retention_cy = "Cyhyd ag y bydd trwydded')
    assert str(caught.value).startswith(f"{path}:{line}:")


def test_a_department_may_state_neither(tmp_path: Path) -> None:
    lines = REGISTRY.read_text(encoding="utf-8").splitlines(keepends=True)
    start = lines.index('id = "tv-licensing"\n')
    kept = lines[:start] + [t for t in lines[start:] if not t.startswith(("lawful_basis", "retention"))]
    path = tmp_path / "departments.toml"
    path.write_text("".join(kept), encoding="utf-8")
    entry = load_registry(path).get("tv-licensing")
    assert (entry.lawful_basis, entry.lawful_basis_cy, entry.retention, entry.retention_cy) == (None, None, None, None)
    assert load_registry(path).get("dvla").retention


def test_the_stated_fields_are_stored_and_a_change_counts_as_an_update(db_session: Session, tmp_path: Path) -> None:
    sync_registry(db_session, load_registry(REGISTRY))
    hmrc = db_session.get_one(Department, "hmrc")
    assert hmrc.retention == "For the current tax year and the 6 years before it."
    assert hmrc.lawful_basis_cy.startswith("Tasg gyhoeddus")
    changed = _registry_with(tmp_path, 'retention = "For the current tax year and the 6 years before it."',
                             'retention = "For the current tax year and the 4 years before it."')
    assert sync_registry(db_session, load_registry(changed)) == ["updated hmrc: retention"]
    db_session.refresh(hmrc)
    assert hmrc.retention == "For the current tax year and the 4 years before it."


@pytest.fixture
def shipped_registry(engine: Engine) -> Iterator[None]:
    with transaction(engine) as session:  # from the registry as shipped, whatever an earlier test synced
        sync_registry(session, load_registry(REGISTRY))
    try:
        yield
    finally:
        with transaction(engine) as session:
            sync_registry(session, load_registry(REGISTRY))


@pytest.fixture
def tv_licensing_states_nothing(engine: Engine, shipped_registry: None) -> None:
    with transaction(engine) as session:
        session.execute(update(Department).where(Department.id == "tv-licensing").values(
            lawful_basis=None, lawful_basis_cy=None, retention=None, retention_cy=None))
        session.execute(update(Department).where(Department.id == "hmrc").values(retention_cy=None))


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


def test_departments_list_flags_a_department_that_states_no_lawful_basis_or_retention(
        app: Flask, tv_licensing_states_nothing: None) -> None:
    result = CliRunner().invoke(main, ["departments", "list"], obj=ScriptInfo(create_app=lambda: app),
                                catch_exceptions=False)
    lines = {line.split()[0]: line for line in result.output.splitlines()}
    assert lines["tv-licensing"].endswith("(states no lawful basis or retention: /organisations says so)")
    assert "states no" not in lines["hmrc"]


def test_the_privacy_notice_links_the_register_as_its_record_of_recipients(client: FlaskClient) -> None:
    for headers in ({}, WELSH):
        page = check_page(client.get("/privacy", headers=headers))
        link = page.select_one("#record-of-recipients")
        assert link is not None and link["href"] == "/organisations"
    text = check_page(client.get("/privacy")).get_text(" ", strip=True)
    assert "The register of organisations we tell is our record of who receives your information" in text
