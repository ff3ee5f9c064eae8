"""Settings for outbound mail: the relay read once at start-up, production refusing to send personal data in clear."""

from __future__ import annotations

from pathlib import Path

import pytest
import trustme

from tellusonce.outbound_relay import Relay
from tellusonce.settings import Settings, SettingsError

PRODUCTION = {
    "TELLUSONCE_SECRET_KEY": "p" * 48,
    "TELLUSONCE_PRIVACY_CONTACT": "dpo@council.example",
    "TELLUSONCE_DATABASE_URL": "postgresql://tellusonce@db.example/tellusonce",
    "TELLUSONCE_PUBLIC_URL": "https://tellusonce.example",
    "TELLUSONCE_RATELIMIT_STORAGE_URL": "redis://redis.example:6379/0",
}

def test_the_relay_and_its_login_are_read_from_the_environment(tmp_path: Path):
    ca = tmp_path / "relay-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(ca))
    settings = Settings.from_env({
        "TELLUSONCE_MODE": "test",
        "TELLUSONCE_OUTBOUND_MAIL": "smtp://relay.example:587?starttls=required",
        "TELLUSONCE_OUTBOUND_MAIL_USERNAME": "tellusonce",
        "TELLUSONCE_OUTBOUND_MAIL_PASSWORD": "s3cret",
        "TELLUSONCE_OUTBOUND_MAIL_CA_FILE": str(ca),
    })
    assert settings.outbound_relay == Relay("relay.example", 587, "starttls", "tellusonce", "s3cret", ca)
    assert "s3cret" not in repr(settings)


def test_production_starts_with_a_relay_over_tls():
    for value in ("smtps://relay.example:465", "smtp://relay.example:587?starttls=required"):
        settings = Settings.from_env({**PRODUCTION, "TELLUSONCE_OUTBOUND_MAIL": value})
        assert settings.outbound_relay is not None and settings.outbound_relay.tls != "none"


def test_production_refuses_plain_smtp_in_one_line_saying_what_to_set():
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({**PRODUCTION, "TELLUSONCE_OUTBOUND_MAIL": "smtp://relay.example:25"})
    [line] = str(refused.value).splitlines()
    assert line.startswith("TELLUSONCE_OUTBOUND_MAIL is smtp://relay.example:25, which sends email in clear")
    assert "smtps://relay.example:465" in line and "smtp://relay.example:587?starttls=required" in line


def test_production_refuses_capture_naming_the_tls_forms():
    with pytest.raises(SettingsError, match=r"TELLUSONCE_OUTBOUND_MAIL is 'capture'.*smtps://host:465"):
        Settings.from_env(PRODUCTION)


def test_production_names_plain_smtp_beside_every_other_missing_setting():
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({"TELLUSONCE_OUTBOUND_MAIL": "smtp://relay.example"})
    message = str(refused.value)
    assert "which sends email in clear" in message and "TELLUSONCE_SECRET_KEY is not set" in message


@pytest.mark.parametrize("mode", ["demo", "test"])
def test_demo_and_test_may_use_a_plain_relay(mode, tmp_path: Path):
    settings = Settings.from_env({"TELLUSONCE_MODE": mode, "TELLUSONCE_INSTANCE_PATH": str(tmp_path),
                                  "TELLUSONCE_OUTBOUND_MAIL": "smtp://127.0.0.1:1025"})
    assert settings.outbound_relay == Relay("127.0.0.1", 1025, "none")


@pytest.mark.parametrize("env", [
    {"TELLUSONCE_OUTBOUND_MAIL": "smtp://relay.example?starttls=maybe"},
    {"TELLUSONCE_OUTBOUND_MAIL": "smtp://relay.example?ssl=1"},
    {"TELLUSONCE_OUTBOUND_MAIL": "smtp://relay.example", "TELLUSONCE_OUTBOUND_MAIL_USERNAME": "u",
     "TELLUSONCE_OUTBOUND_MAIL_PASSWORD": "s3cret"},
], ids=["starttls-value", "unknown-option", "login-in-clear"])
def test_a_wrong_relay_setting_is_refused_at_start_up_in_every_mode(env):
    for mode in ("production", "test"):
        with pytest.raises(SettingsError, match="TELLUSONCE_OUTBOUND_MAIL") as refused:
            Settings.from_env({**PRODUCTION, "TELLUSONCE_MODE": mode, **env})
        assert "\n" not in str(refused.value) and "s3cret" not in str(refused.value)


def test_a_ca_file_that_is_missing_or_not_certificates_is_refused_at_start_up(tmp_path: Path):
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN CERTIFICATE-----\nnot one\n-----END CERTIFICATE-----\n")
    for path in (tmp_path / "no-such.pem", garbage):
        with pytest.raises(SettingsError, match="TELLUSONCE_OUTBOUND_MAIL_CA_FILE is .*cannot be read as PEM"):
            Settings.from_env({"TELLUSONCE_MODE": "test", "TELLUSONCE_OUTBOUND_MAIL": "smtps://relay.example",
                               "TELLUSONCE_OUTBOUND_MAIL_CA_FILE": str(path)})
