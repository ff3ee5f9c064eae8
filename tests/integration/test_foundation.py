"""Schema, registry, audit trail and settings: the ground the rest stands on."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select, update

from services.registry import RegistryError, load_registry, sync_registry
from tellusonce.data.audit import record_event, verify_chain
from tellusonce.db import make_engine
from tellusonce.migrate import head_revision, is_up_to_date, upgrade
from tellusonce.models import AuditEvent, Base, Department
from tellusonce.settings import Settings, SettingsError
from tests.conftest import REGISTRY

# The newest file in migrations/versions: numbered in order, so the last name is the head.
NEWEST_MIGRATION = sorted((Path(__file__).parents[2] / "tellusonce/migrations/versions").glob("0*.py"))[-1].name[:4]


def test_migrations_and_models_agree(engine):
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection, opts={"compare_type": False}), Base.metadata)
    assert diff == []
    assert is_up_to_date(engine)


def test_upgrade_is_safe_to_run_again(database_url):
    upgrade(database_url)
    engine = make_engine(database_url)
    try:
        assert is_up_to_date(engine) and head_revision() == NEWEST_MIGRATION
    finally:
        engine.dispose()


def test_audit_chain_verifies_and_detects_tampering(db_session):
    for i in range(3):
        record_event(db_session, actor="test", action="thing.done", subject_type="thing", subject_id=i, details={"n": i})
    assert verify_chain(db_session).ok
    middle = db_session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()[-2]
    db_session.execute(update(AuditEvent).where(AuditEvent.id == middle.id).values(details={"n": 99}))
    db_session.expire_all()
    check = verify_chain(db_session)
    assert not check.ok and check.broken_at == middle.id


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


def test_production_refuses_to_start_without_a_secret_key():
    with pytest.raises(SettingsError, match="TELLUSONCE_SECRET_KEY is not set"):
        Settings.from_env({"TELLUSONCE_OUTBOUND_MAIL": "smtp://mail:25"})


def test_production_refuses_captured_mail_and_short_secrets():
    with pytest.raises(SettingsError, match="OUTBOUND_MAIL"):
        Settings.from_env({"TELLUSONCE_SECRET_KEY": "x" * 40})
    with pytest.raises(SettingsError, match="at least 32"):
        Settings.from_env({"TELLUSONCE_SECRET_KEY": "short", "TELLUSONCE_OUTBOUND_MAIL": "smtp://m:25"})


def test_demo_mode_starts_without_a_secret_and_defaults_to_sqlite_under_instance(tmp_path):
    settings = Settings.from_env({"TELLUSONCE_MODE": "demo", "TELLUSONCE_INSTANCE_PATH": str(tmp_path)})
    assert settings.secret_key and settings.database_url == f"sqlite:///{tmp_path / 'tellusonce.sqlite3'}"


def test_unknown_mode_is_refused():
    with pytest.raises(SettingsError, match="TELLUSONCE_MODE"):
        Settings.from_env({"TELLUSONCE_MODE": "staging"})


def test_audit_events_chain_per_actor_and_removing_one_is_detected(db_session):
    from sqlalchemy import delete

    for actor in ("citizen:a", "citizen:b", "citizen:a", "citizen:a"):
        record_event(db_session, actor=actor, action="x", subject_type="t", subject_id=1)
    check = verify_chain(db_session)
    assert check.ok and check.checked == 4 and check.chains == 2
    events = db_session.scalars(select(AuditEvent).where(AuditEvent.chain == "citizen:a").order_by(AuditEvent.id)).all()
    assert events[1].prev_hash == events[0].hash
    db_session.execute(delete(AuditEvent).where(AuditEvent.id == events[1].id))
    db_session.expire_all()
    check = verify_chain(db_session)
    assert not check.ok and check.broken_at == events[2].id


def test_every_demo_process_agrees_on_one_secret_kept_under_the_instance_folder(tmp_path):
    env = {"TELLUSONCE_MODE": "demo", "TELLUSONCE_INSTANCE_PATH": str(tmp_path)}
    first, second = Settings.from_env(env), Settings.from_env(env)
    assert first.secret_key == second.secret_key
    assert (tmp_path / "demo-secret-key").stat().st_mode & 0o777 == 0o600
    assert Settings.from_env({"TELLUSONCE_MODE": "test"}).secret_key != Settings.from_env({"TELLUSONCE_MODE": "test"}).secret_key
