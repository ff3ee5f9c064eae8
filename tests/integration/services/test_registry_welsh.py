"""Organisations' names and purposes in Welsh in the registry (``name_cy``, ``purpose_cy``): checked
like every other field, and stored on the department."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from tellusonce.models import Department
from tellusonce_services.registry import RegistryError, load_registry, sync_registry
from tests.conftest import REGISTRY
from tests.integration.services.registry_files import registry_with


def test_every_shipped_department_has_a_welsh_name_and_purpose() -> None:
    for entry in load_registry(REGISTRY).departments:
        assert entry.name_cy and entry.purpose_cy, entry.id
    hmrc = load_registry(REGISTRY).get("hmrc")
    assert hmrc.name_cy.startswith("Cyllid a Thollau EF")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('name_cy = "Cyllid a Thollau EF (CThEF)"', 'name_cy = "  "',
         "department 'hmrc', field 'name_cy': must be a non-empty string"),
        ('name_cy = "Trwyddedu Teledu"', "name_cy = 3", "department 'tv-licensing', field 'name_cy': must be a non-empty string"),
        ('purpose_cy = "Yn rhoi Trwyddedau Teledu', 'purpose_cymraeg = "Yn rhoi Trwyddedau Teledu',
         "department 'tv-licensing', field 'purpose_cymraeg': unknown field (did you mean 'purpose_cy'?)"),
    ],
)
def test_a_mistake_in_the_welsh_fields_names_the_line_department_and_field(
        tmp_path: Path, old: str, new: str, message: str) -> None:
    path = registry_with(tmp_path, old, new)
    with pytest.raises(RegistryError) as caught:
        load_registry(path)
    assert message in str(caught.value)
    line = next(i for i, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1) if text.startswith(new))
    assert str(caught.value).startswith(f"{path}:{line}:")


def test_a_department_may_go_without_welsh(tmp_path: Path) -> None:
    path = registry_with(tmp_path, 'name_cy = "Trwyddedu Teledu"\n', "")
    entry = load_registry(path).get("tv-licensing")
    assert entry.name_cy is None and entry.purpose_cy


def test_the_welsh_is_stored_and_a_change_to_it_counts_as_an_update(db_session: Session, tmp_path: Path) -> None:
    sync_registry(db_session, load_registry(REGISTRY))
    dvla = db_session.get_one(Department, "dvla")
    assert dvla.name_cy == "Yr Asiantaeth Trwyddedu Gyrwyr a Cherbydau (DVLA)"
    assert dvla.purpose_cy.startswith("Yn cadw cofnodion")
    before = dvla.revision
    changed = registry_with(tmp_path, 'name_cy = "Yr Asiantaeth Trwyddedu Gyrwyr a Cherbydau (DVLA)"',
                             'name_cy = "Asiantaeth Trwyddedu Gyrwyr a Cherbydau (DVLA)"')
    assert sync_registry(db_session, load_registry(changed)) == ["updated dvla: name_cy"]
    db_session.refresh(dvla)
    assert dvla.name_cy == "Asiantaeth Trwyddedu Gyrwyr a Cherbydau (DVLA)" and dvla.revision == before + 1
