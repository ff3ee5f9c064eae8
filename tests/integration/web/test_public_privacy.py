"""The privacy notice names a person to contact about data protection, set by the operator, not the
robot at changes@ that reads emailed changes."""

from __future__ import annotations

import dataclasses

import pytest
from page_checks import check_page

from tellusonce import create_app
from tellusonce.settings import Settings, SettingsError

PRODUCTION = {"TELLUSONCE_SECRET_KEY": "s" * 40, "TELLUSONCE_OUTBOUND_MAIL": "smtps://mail.example:465",
              "TELLUSONCE_DATABASE_URL": "postgresql://tellusonce@db.example/tellusonce",
              "TELLUSONCE_PUBLIC_URL": "https://tellusonce.example", "TELLUSONCE_RATELIMIT_STORAGE_URL": "redis://redis.example:6379/0"}


def contact_section(client) -> str:
    page = check_page(client.get("/privacy"))
    heading = next(h for h in page.select("h2") if h.get_text(strip=True) == "Contact us")
    return " ".join(p.get_text(" ", strip=True) for p in heading.find_next_siblings("p"))


def privacy_page_of(settings: Settings):
    app = create_app(settings)
    try:
        return check_page(app.test_client().get("/privacy")), contact_section(app.test_client())
    finally:
        app.extensions["tellusonce.engine"].dispose()


def test_production_refuses_to_start_without_a_data_protection_contact():
    with pytest.raises(SettingsError, match="TELLUSONCE_PRIVACY_CONTACT is not set"):
        Settings.from_env(PRODUCTION)
    settings = Settings.from_env({**PRODUCTION, "TELLUSONCE_PRIVACY_CONTACT": "dpo@council.example"})
    assert settings.data_protection_contact == "dpo@council.example"


@pytest.mark.parametrize("contact", ["changes@tellusonce.localhost", "CHANGES@tellusonce.localhost", "the DPO",
                                     "https://"])
def test_a_contact_no_person_reads_is_refused(contact):
    with pytest.raises(SettingsError, match="TELLUSONCE_PRIVACY_CONTACT"):
        Settings.from_env({**PRODUCTION, "TELLUSONCE_PRIVACY_CONTACT": contact})


def test_the_privacy_notice_gives_the_configured_address_as_a_link_for_data_protection_requests(settings, engine):
    page, contact = privacy_page_of(dataclasses.replace(settings, privacy_contact="dpo@council.example"))
    assert "dpo@council.example" in contact
    assert page.select_one('a[href="mailto:dpo@council.example"]') is not None


def test_the_privacy_notice_links_a_configured_web_page(settings, engine):
    page, contact = privacy_page_of(dataclasses.replace(settings, privacy_contact="https://council.example/dpo"))
    assert page.select_one('a[href="https://council.example/dpo"]') is not None
    assert "mailto:" not in str(page.select_one("main"))


def test_demo_and_test_mode_show_a_demo_contact_and_say_changes_is_only_for_reporting(client):
    contact = contact_section(client)
    assert "data-protection@tellusonce.test" in contact
    assert "changes@tellusonce.test" in contact and "only" in contact
    assert Settings.from_env({"TELLUSONCE_MODE": "test"}).data_protection_contact == "data-protection@tellusonce.localhost"
