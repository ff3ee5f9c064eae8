"""One place that says what time it is, always in UTC and always aware."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
