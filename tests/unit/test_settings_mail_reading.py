"""The time budget for reading one inbound message is a setting (docs/mail-security.md)."""

from __future__ import annotations

import pytest

from tellusonce.settings import Settings, SettingsError


def test_the_time_budget_for_reading_a_message_is_a_number_of_seconds_from_the_environment():
    assert Settings.from_env({"TELLUSONCE_MODE": "test"}).mail_parse_seconds == 5.0
    assert Settings.from_env({"TELLUSONCE_MODE": "test", "TELLUSONCE_MAIL_PARSE_SECONDS": "2.5"}).mail_parse_seconds == 2.5


@pytest.mark.parametrize("raw", ["soon", "0", "-1"])
def test_a_time_budget_that_is_not_a_number_of_seconds_stops_start_up_and_says_which_setting(raw):
    with pytest.raises(SettingsError, match="TELLUSONCE_MAIL_PARSE_SECONDS"):
        Settings.from_env({"TELLUSONCE_MODE": "test", "TELLUSONCE_MAIL_PARSE_SECONDS": raw})
