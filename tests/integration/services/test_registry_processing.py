"""Each organisation's lawful basis and retention as it states them in the registry (``lawful_basis``,
``retention`` and their Welsh): checked like every other field, and stored."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from tellusonce.models import Department
from tellusonce.settings import PROJECT_ROOT
from tellusonce_services.registry import RegistryError, load_registry, sync_registry
from tests.conftest import REGISTRY
from tests.integration.services.registry_files import registry_with

PRODUCTION = PROJECT_ROOT / "config" / "departments.production.example.toml"


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
    changed = registry_with(tmp_path, 'retention = "For the current tax year and the 6 years before it."',
                             'retention = "For the current tax year and the 4 years before it."')
    assert sync_registry(db_session, load_registry(changed)) == ["updated hmrc: retention"]
    db_session.refresh(hmrc)
    assert hmrc.retention == "For the current tax year and the 4 years before it."
