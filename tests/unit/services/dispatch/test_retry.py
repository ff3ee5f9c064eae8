"""The retry schedule: five seconds to ten hours, then dead; a longer Retry-After is honoured."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from tellusonce_services.dispatch.retry import MAX_ATTEMPTS, next_attempt_at

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def test_retry_schedule_is_five_seconds_to_ten_hours_then_dead():
    rng = random.Random(1)
    delays = [next_attempt_at(n, now=NOW, rng=rng) - NOW for n in range(1, MAX_ATTEMPTS)]
    expected = [timedelta(seconds=5), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2),
                timedelta(hours=5), timedelta(hours=10), timedelta(hours=10)]
    for delay, base in zip(delays, expected, strict=True):
        assert base * 0.9 <= delay <= base * 1.1
    assert len(set(delays)) == len(delays)
    assert next_attempt_at(MAX_ATTEMPTS, now=NOW) is None
    assert MAX_ATTEMPTS == 8


def test_retry_after_longer_than_the_schedule_is_honoured():
    assert next_attempt_at(1, now=NOW, retry_after=600) == NOW + timedelta(seconds=600)
    assert next_attempt_at(4, now=NOW, retry_after=1) - NOW >= timedelta(hours=1.8)
