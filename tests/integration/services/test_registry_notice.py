"""The registry's ``notice_days``: how long before a change's date each organisation wants to hear of it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tellusonce.models import Department
from tellusonce_services.registry import RegistryError, load_registry, sync_registry
from tests.conftest import REGISTRY

NOTICE = "[department.notice_days]\naddress = 14\n"


def test_notice_days_are_read_and_synced_and_default_to_the_date_itself(db_session):
    registry = load_registry(REGISTRY)
    assert registry.get("leeds-council-tax").notice_days == {"address": 14}
    assert registry.get("dvla").notice_days == {}
    sync_registry(db_session, registry)
    council_tax = db_session.get(Department, "leeds-council-tax")
    assert council_tax.notice_for("address") == 14 and council_tax.notice_for("name") == 0
    assert db_session.get(Department, "dvla").notice_for("address") == 0


def _broken(tmp_path: Path, new: str) -> tuple[Path, int]:
    """The shipped registry with the council tax's notice table replaced by ``new``; the line it starts on."""
    text = REGISTRY.read_text()
    assert NOTICE in text
    path = tmp_path / "departments.toml"
    path.write_text(text.replace(NOTICE, new, 1))
    return path, text[:text.index(NOTICE)].count("\n") + 1


@pytest.mark.parametrize(
    ("table", "line", "message"),
    [
        ("[department.notice_days]\naddress = -1\n", 1, "field 'address': must be a whole number of days from 0"),
        ("[department.notice_days]\naddress = 200\n", 1, "must be a whole number of days from 0 (on the date) to 93"),
        ('[department.notice_days]\naddress = "two weeks"\n', 1, "must be a whole number of days"),
        ("[department.notice_days]\naddress = 1.5\n", 1, "must be a whole number of days"),
        ("[department.notice_days]\nname = 3\naddress = true\n", 2, "must be a whole number of days"),
        ("[department.notice_days]\nbirth = 3\n", 1, "gives notice days for 'birth', which this department does not receive"),
        ("[department.notice_days]\nadress = 3\n", 1, "'adress'"),
    ],
)
def test_a_mistake_in_notice_days_names_its_line(tmp_path, table, line, message):
    path, start = _broken(tmp_path, table)
    with pytest.raises(RegistryError) as caught:
        load_registry(path)
    assert message in str(caught.value)
    assert str(caught.value).startswith(f"{path}:{start + line}: department 'leeds-council-tax'")


def test_notice_days_for_a_change_without_a_date_is_refused(tmp_path):
    text = REGISTRY.read_text()
    # HMRC receives contact changes, which have no date to give notice of.
    old = 'birth = "So that Child Benefit can be claimed for the child."\n'
    assert old in text
    path = tmp_path / "departments.toml"
    path.write_text(text.replace(old, old + "\n[department.notice_days]\ncontact = 2\n", 1))
    with pytest.raises(RegistryError) as caught:
        load_registry(path)
    assert "department 'hmrc', field 'contact': 'contact' changes have no date to give notice of" in str(caught.value)


def test_notice_days_that_is_not_a_table_is_refused(tmp_path):
    path, _start = _broken(tmp_path, "")
    path.write_text(path.read_text().replace('id = "leeds-council-tax"\n', 'id = "leeds-council-tax"\nnotice_days = 14\n', 1))
    with pytest.raises(RegistryError) as caught:
        load_registry(path)
    assert "department 'leeds-council-tax', field 'notice_days': must be a table of change type = days" in str(caught.value)
