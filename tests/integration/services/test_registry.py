"""The department registry: the shipped one loads, a removed department is deactivated, mistakes name their line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tellusonce.models import Department
from tellusonce_services.registry import RegistryError, load_registry, sync_registry
from tests.conftest import REGISTRY


def test_shipped_registry_has_eight_departments_each_explaining_itself():
    registry = load_registry(REGISTRY)
    assert len(registry.departments) >= 8
    for entry in registry.departments:
        assert entry.purpose and set(entry.reasons) == set(entry.receives)


def test_sync_deactivates_a_department_removed_from_the_registry(db_session, tmp_path):
    text = REGISTRY.read_text()
    start = text.index('[[department]]\nid = "tv-licensing"')
    smaller = tmp_path / "departments.toml"
    smaller.write_text(text[:start])
    changes = sync_registry(db_session, load_registry(smaller))
    assert "deactivated tv-licensing (no longer in the registry)" in changes
    assert db_session.get(Department, "tv-licensing").active is False
    sync_registry(db_session, load_registry(REGISTRY))
    assert db_session.get(Department, "tv-licensing").active is True


def _broken(tmp_path: Path, old: str, new: str) -> Path:
    path = tmp_path / "departments.toml"
    text = REGISTRY.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    return path


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('"move_date", "others_moving"]', '"move_dat", "others_moving"]',
         "department 'dwp', field 'address': 'move_dat' is not a field of 'address' changes (did you mean 'move_date'?)"),
        ('channel = "feed"', 'chanel = "feed"', "field 'chanel': unknown field (did you mean 'channel'?)"),
        ('channel = "email"', 'channel = "fax"', "department 'tv-licensing', field 'channel': must be one of webhook, email, feed"),
        ('id = "hmpo"', 'id = "dvla"', "the id 'dvla' is used by more than one department"),
        ('death = "To cancel the passport', 'deaths = "To cancel the passport',
         "department 'hmpo', field 'reasons'"),
        ("secret_env = \"TELLUSONCE_WEBHOOK_SECRET_HMRC\"\n", "",
         "department 'hmrc', field 'secret_env': a webhook department needs"),
    ],
)
def test_registry_mistakes_name_the_line_department_and_field(tmp_path, old, new, message):
    with pytest.raises(RegistryError) as caught:
        load_registry(_broken(tmp_path, old, new))
    assert message in str(caught.value)
    assert str(caught.value).startswith(f"{tmp_path / 'departments.toml'}:")


def test_registry_that_is_not_toml_names_the_line(tmp_path):
    path = _broken(tmp_path, 'id = "dwp"', 'id = "dwp')
    with pytest.raises(RegistryError, match="not valid TOML.*line"):
        load_registry(path)
