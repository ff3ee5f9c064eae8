"""The service's one clock: UTC for what it records, the UK's date for what a citizen types."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from tellusonce.clock import ShiftedClock, today, uk_date, utcnow
from tellusonce.settings import Settings, SettingsError

AFTER_MIDNIGHT_IN_SUMMER = datetime(2026, 6, 30, 23, 30, tzinfo=UTC)  # 00:30 on 1 July in London


def test_today_is_the_uk_date_in_the_hour_after_midnight_in_summer_time(clock: ShiftedClock) -> None:
    clock.move_to(AFTER_MIDNIGHT_IN_SUMMER)
    assert utcnow().date() == date(2026, 6, 30)
    assert today() == date(2026, 7, 1)


def test_in_winter_the_uk_date_is_the_utc_date() -> None:
    assert uk_date(datetime(2026, 12, 31, 23, 30, tzinfo=UTC)) == date(2026, 12, 31)


def test_a_shifted_clock_keeps_time_flowing_from_the_moment_it_starts_at() -> None:
    start = datetime(2030, 1, 1, tzinfo=UTC)
    clock = ShiftedClock.starting_at(start)
    first = clock.now()
    assert timedelta(0) <= first - start < timedelta(minutes=1)
    clock.advance(timedelta(days=2))
    assert clock.now() - first >= timedelta(days=2)


def test_a_clock_needs_an_aware_start() -> None:
    with pytest.raises(ValueError, match="aware"):
        ShiftedClock.starting_at(datetime(2030, 1, 1))


def test_the_clock_offset_is_refused_outside_test_mode(tmp_path) -> None:
    assert Settings.from_env({"TELLUSONCE_MODE": "test", "TELLUSONCE_CLOCK_OFFSET": "-86400"}).clock_offset == -86400
    with pytest.raises(SettingsError, match="TELLUSONCE_CLOCK_OFFSET is for tests only"):
        Settings.from_env({"TELLUSONCE_MODE": "demo", "TELLUSONCE_INSTANCE_PATH": str(tmp_path),
                           "TELLUSONCE_CLOCK_OFFSET": "60"})
