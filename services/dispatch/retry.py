"""When to try a notification again after a failed attempt.

The first attempt is made as soon as the notification is queued; after each
failure the next comes after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h, and
after the eighth failed attempt the notification is dead (an operator can replay
it). Each delay is spread by up to a tenth either way so that a department coming
back is not hit by every retry at the same second; a department's Retry-After is
honoured when it asks for longer.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

SCHEDULE: tuple[timedelta, ...] = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
MAX_ATTEMPTS = len(SCHEDULE) + 1
JITTER = 0.1


def next_attempt_at(attempts_made: int, *, now: datetime, retry_after: float | None = None,
                    rng: random.Random | None = None) -> datetime | None:
    """When to try again after ``attempts_made`` failed attempts; None when there is no attempt left."""
    if attempts_made < 1:
        raise ValueError("attempts_made counts the attempt that just failed, so it is at least 1")
    if attempts_made >= MAX_ATTEMPTS:
        return None
    base = SCHEDULE[attempts_made - 1]
    spread = (rng or random).uniform(-JITTER, JITTER)
    delay = base * (1 + spread)
    if retry_after is not None and timedelta(seconds=retry_after) > delay:
        delay = timedelta(seconds=retry_after)
    return now + delay
