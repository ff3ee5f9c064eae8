"""The service's one clock: every "now" and every "today" comes from here.

``utcnow()`` is the time as the service records it (always UTC, always aware); ``today()`` is
the date a citizen means when they type one, which is the date in the UK (a date of move typed
at 00:30 in British Summer Time is that day's, not yesterday's). In production the clock is
the system's. Tests set their own with ``set_clock`` — a ``ShiftedClock`` starting at a fixed
moment keeps time flowing but never meets the calendar — and hand the same offset to processes
they start through ``TELLUSONCE_CLOCK_OFFSET`` (test mode only; see ``settings.py``).

``system_now()`` is the machine's real time, for the one place another machine checks our time
against its own: the timestamp in a webhook signature.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

UK = ZoneInfo("Europe/London")


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class ShiftedClock:
    """The system clock moved by ``offset``: seconds still pass, the date is the one chosen."""

    offset: timedelta = field(default_factory=timedelta)

    @classmethod
    def starting_at(cls, moment: datetime) -> ShiftedClock:
        if moment.tzinfo is None:
            raise ValueError("a clock starts at an aware datetime")
        return cls(moment - datetime.now(UTC))

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, by: timedelta) -> None:
        self.offset += by

    def move_to(self, moment: datetime) -> None:
        self.offset = moment - datetime.now(UTC)


_clock: Clock = SystemClock()


def set_clock(clock: Clock) -> Clock:
    """Make ``clock`` the service's clock; returns the one it replaces."""
    global _clock
    previous, _clock = _clock, clock
    return previous


def utcnow() -> datetime:
    return _clock.now()


def uk_date(moment: datetime) -> date:
    """The date in the UK at ``moment``."""
    return moment.astimezone(UK).date()


def today() -> date:
    """Today's date in the UK: what a citizen means by "today"."""
    return uk_date(utcnow())


def system_now() -> datetime:
    return datetime.now(UTC)
