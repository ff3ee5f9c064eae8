"""GOV.UK Notify settings: refused at start-up, one line each, when they cannot work."""

from __future__ import annotations

import pytest

from tellusonce.settings import Settings, SettingsError

SERVICE_ID = "26785a09-ab16-4eb0-8407-a37497a57506"
SECRET = "3d844edf-8d35-48ac-975b-e847b4f122b0"
KEY = f"tellusonce_live-{SERVICE_ID}-{SECRET}"
TEMPLATE_ID = "f33517ff-2a88-4f6e-b855-c550268ce08a"
PRODUCTION = {"TELLUSONCE_SECRET_KEY": "k" * 40, "TELLUSONCE_PRIVACY_CONTACT": "dpo@example.gov.uk",
              "TELLUSONCE_DATABASE_URL": "postgresql://app@db/tellusonce", "TELLUSONCE_PUBLIC_URL": "https://t.example",
              "TELLUSONCE_RATELIMIT_STORAGE_URL": "redis://redis:6379/0"}
NOTIFY = {"TELLUSONCE_OUTBOUND_MAIL": "notify", "TELLUSONCE_NOTIFY_API_KEY": KEY,
          "TELLUSONCE_NOTIFY_TEMPLATE_ID": TEMPLATE_ID}


def settings(**env: str) -> Settings:
    return Settings.from_env(PRODUCTION | NOTIFY | {f"TELLUSONCE_{k.upper()}": v for k, v in env.items()})


def refusal(**env: str) -> str:
    with pytest.raises(SettingsError) as refused:
        settings(**env)
    message = str(refused.value)
    assert "\n" not in message
    return message


def test_production_starts_sending_through_notify_with_a_key_and_a_template():
    started = settings()
    assert (started.outbound_mail, started.notify_api_key, started.notify_template_id) == ("notify", KEY, TEMPLATE_ID)


def test_notify_without_an_api_key_is_refused_naming_it():
    assert "TELLUSONCE_NOTIFY_API_KEY is not set" in refusal(notify_api_key="")


@pytest.mark.parametrize("key", [SECRET, f"{SERVICE_ID}-{SECRET}", f"name-{SERVICE_ID}-{SECRET[:-1]}",
                                 f"name-{SERVICE_ID}-{SECRET} ", f"name-{SERVICE_ID}-{SECRET}x", "not-a-key"])
def test_a_malformed_api_key_is_refused_without_repeating_it(key):
    message = refusal(notify_api_key=key)
    assert "TELLUSONCE_NOTIFY_API_KEY is not a GOV.UK Notify API key" in message and SECRET[:8] not in message


def test_notify_without_a_template_is_refused_saying_what_the_template_holds():
    message = refusal(notify_template_id="")
    assert "TELLUSONCE_NOTIFY_TEMPLATE_ID is not set" in message and "((subject))" in message


@pytest.mark.parametrize("name", ["notify_template_id", "notify_file_template_id", "notify_reply_to_id"])
def test_an_id_that_is_not_notifys_is_refused_naming_it(name):
    assert f"TELLUSONCE_{name.upper()} must be the id" in refusal(**{name: "welcome-email"})


def test_production_takes_only_an_https_notify_address():
    assert "TELLUSONCE_NOTIFY_BASE_URL must be the https://" in refusal(notify_base_url="http://notify.internal")
    assert "TELLUSONCE_NOTIFY_BASE_URL" in refusal(notify_base_url="notify.internal")
    assert settings(notify_base_url="https://notify.internal").notify_base_url == "https://notify.internal"
    test_mode = Settings.from_env(NOTIFY | {"TELLUSONCE_MODE": "test", "TELLUSONCE_NOTIFY_BASE_URL": "http://127.0.0.1:9"})
    assert test_mode.notify_base_url == "http://127.0.0.1:9"


def test_production_refuses_a_short_callback_token():
    assert "TELLUSONCE_NOTIFY_CALLBACK_TOKEN must be at least 32" in refusal(notify_callback_token="short-token")
    assert settings(notify_callback_token="t" * 32).notify_callback_token == "t" * 32
