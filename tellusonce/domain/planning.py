"""Planning ahead: a change reported before its date, and when each organisation hears of it.

A move or a change of name can be reported up to three months before it happens. For each
organisation told, the citizen chooses to tell it now or on the date; the registry says, per
organisation and change type, how many days before the date it wants to hear (``notice_days``,
0: on the date). A planned notification is due at the start of that day in the UK, and never
before the moment it is planned: a date already close enough is simply told now.

A feed organisation pulls its notifications in the order they were queued, so it is always
told at once: a planned one appearing later would sit behind the place it has read up to.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from tellusonce.clock import UK

AHEAD_MONTHS = 3
# The longest notice the registry may ask for: more than the furthest ahead a change can be reported.
MAX_NOTICE_DAYS = 93
# The channels that can hold a notification back until it is due (the feed cannot: see above).
PLANNABLE_CHANNELS = frozenset({"webhook", "email"})


class When(StrEnum):
    """When the citizen wants an organisation told."""

    NOW = "now"
    ON_DATE = "on_date"


def months_after(day: date, months: int) -> date:
    """The same day ``months`` calendar months later; the month's last day where it is shorter
    (three months after 30 November is 28 or 29 February)."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def furthest_ahead(today: date) -> date:
    """The latest date a change can be reported for, reported ``today``."""
    return months_after(today, AHEAD_MONTHS)


def planned_time(effective: date | None, *, notice_days: int, channel: str, now: datetime) -> datetime | None:
    """When an organisation on ``channel`` wanting ``notice_days`` days' notice would be told of a
    change that happens on ``effective``, if told "on the date"; None when there is nothing to
    plan (no date, a feed organisation, or that moment is not after ``now``: it is told now)."""
    if effective is None or channel not in PLANNABLE_CHANNELS:
        return None
    due = datetime.combine(effective - timedelta(days=max(0, notice_days)), time(0, 0), tzinfo=UK).astimezone(UTC)
    return due if due > now else None
