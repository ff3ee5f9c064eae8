"""Settings from the environment: production refuses to start unsafely, demo and test start with nothing set."""

from __future__ import annotations

import pytest

from tellusonce.settings import Settings, SettingsError


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


def test_every_demo_process_agrees_on_one_secret_kept_under_the_instance_folder(tmp_path):
    env = {"TELLUSONCE_MODE": "demo", "TELLUSONCE_INSTANCE_PATH": str(tmp_path)}
    first, second = Settings.from_env(env), Settings.from_env(env)
    assert first.secret_key == second.secret_key
    assert (tmp_path / "demo-secret-key").stat().st_mode & 0o777 == 0o600
    assert Settings.from_env({"TELLUSONCE_MODE": "test"}).secret_key != Settings.from_env({"TELLUSONCE_MODE": "test"}).secret_key
