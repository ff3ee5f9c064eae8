"""The privacy notice names a person to contact about data protection, set by the operator, not the
robot at changes@ that reads emailed changes, and links the register as its record of recipients."""

from __future__ import annotations

import dataclasses

import pytest
from flask.testing import FlaskClient
from page_checks import check_page

from tellusonce import create_app
from tellusonce.settings import PROJECT_ROOT, Settings, SettingsError

PRODUCTION = {"TELLUSONCE_SECRET_KEY": "s" * 40, "TELLUSONCE_OUTBOUND_MAIL": "smtps://mail.example:465",
              "TELLUSONCE_DATABASE_URL": "postgresql://tellusonce@db.example/tellusonce",
              "TELLUSONCE_PUBLIC_URL": "https://tellusonce.example", "TELLUSONCE_RATELIMIT_STORAGE_URL": "redis://redis.example:6379/0"}
WELSH = {"Accept-Language": "cy"}


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


def retention_rows(page) -> dict[str, str]:
    return {row["id"].removeprefix("retention-"): row.get_text(" ", strip=True)
            for row in page.select("#retention-schedule .govuk-summary-list__row")}


def test_the_privacy_notice_lists_the_retention_schedule_the_service_enforces(client):
    from tellusonce.domain.retention import Kind

    schedule = client.application.config["RETENTION"]
    rows = retention_rows(check_page(client.get("/privacy")))
    assert list(rows) == [kind.value for kind in Kind]
    for rule in schedule.rules:
        assert rule.reason in rows[rule.kind.value]
    assert "Details sent to an organisation Kept for 30 days. Then the personal details are removed." in rows["notification_payloads"]
    assert "Kept for 6 years. Then it is deleted." in rows["audit_events"]


def test_the_privacy_notice_shows_the_schedule_in_welsh(client):
    schedule = client.application.config["RETENTION"]
    client.get("/language/cy")
    rows = retention_rows(check_page(client.get("/privacy")))
    for rule in schedule.rules:
        assert rule.reason_cy in rows[rule.kind.value] and rule.reason not in rows[rule.kind.value]
    assert "Cedwir am 30 diwrnod." in rows["notification_payloads"]
    assert "6 blynedd" in rows["audit_events"]


def test_the_privacy_notice_follows_the_schedule_loaded_not_a_copy(settings, engine, tmp_path):
    text = (PROJECT_ROOT / "config" / "retention.toml").read_text(encoding="utf-8")
    changed = tmp_path / "retention.toml"
    changed.write_text(text.replace('keep = "7 days"\nthen = "blank"', 'keep = "3 weeks"\nthen = "delete"', 1),
                       encoding="utf-8")
    page, _contact = privacy_page_of(dataclasses.replace(settings, retention=changed))
    assert "Kept for 3 weeks. Then it is deleted." in retention_rows(page)["outgoing_email"]


def test_a_schedule_with_a_mistake_stops_the_app_from_starting_naming_the_line(settings, tmp_path):
    broken = tmp_path / "retention.toml"
    broken.write_text((PROJECT_ROOT / "config" / "retention.toml").read_text(encoding="utf-8")
                      .replace('keep = "1 day"', 'keep = "a day"', 1), encoding="utf-8")
    with pytest.raises(SettingsError, match=rf"TELLUSONCE_RETENTION: {broken}:\d+: \[journeys\], field 'keep'"):
        create_app(dataclasses.replace(settings, retention=broken))

def test_the_privacy_notice_links_the_register_as_its_record_of_recipients(client: FlaskClient) -> None:
    for headers in ({}, WELSH):
        page = check_page(client.get("/privacy", headers=headers))
        link = page.select_one("#record-of-recipients")
        assert link is not None and link["href"] == "/organisations"
    text = check_page(client.get("/privacy")).get_text(" ", strip=True)
    assert "The register of organisations we tell is our record of who receives your information" in text
