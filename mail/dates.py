"""Dates as people type them: 1/11/2026, 1 November 2026, 1st Nov, 2026-11-01, yesterday.

Numbers are read day first, as in the UK. A two-digit year is this century up
to next year, otherwise the last. A date without a year is this year. What
cannot be read is returned as None, and the caller keeps the words as typed so
that validation explains the problem.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan", "ionawr"),
            ("february", "feb", "chwefror"),
            ("march", "mar", "mawrth"),
            ("april", "apr", "ebrill"),
            ("may", "mai"),
            ("june", "jun", "mehefin"),
            ("july", "jul", "gorffennaf"),
            ("august", "aug", "awst"),
            ("september", "sep", "sept", "medi"),
            ("october", "oct", "hydref"),
            ("november", "nov", "tachwedd"),
            ("december", "dec", "rhagfyr"),
        ),
        start=1,
    )
    for name in names
}
_WEEKDAYS = re.compile(
    r"\b(mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)(day|nesday|rsday|urday)?\b|\b(dydd\s+\w+)\b", re.IGNORECASE
)
_ISO = re.compile(r"^(\d{4})\s*[-/.]\s*(\d{1,2})\s*[-/.]\s*(\d{1,2})$")
_NUMERIC = re.compile(r"^(\d{1,2})\s*[-/.]\s*(\d{1,2})\s*[-/.]\s*(\d{4}|\d{2})$")
_DAY_MONTH = re.compile(r"^(\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?([a-z]+)\.?(?:\s+(\d{4}|\d{2}))?$")
_MONTH_DAY = re.compile(r"^([a-z]+)\.?\s+(\d{1,2})(?:st|nd|rd|th)?(?:\s+(\d{4}|\d{2}))?$")
RELATIVE = {"today": 0, "heddiw": 0, "yesterday": -1, "ddoe": -1, "tomorrow": 1, "yfory": 1}


def parse_date(text: str, *, today: date) -> str | None:
    """The ISO date ``text`` means, or None when it is not a date we can read."""
    words = " ".join(_WEEKDAYS.sub(" ", text.lower().replace(",", " ")).split()).strip(" .")
    if words in RELATIVE:
        return (today + timedelta(days=RELATIVE[words])).isoformat()
    if m := _ISO.match(words):
        return _make(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    if m := _NUMERIC.match(words):
        return _make(_year(m.group(3), today), int(m.group(2)), int(m.group(1)))
    if (m := _DAY_MONTH.match(words)) and m.group(2) in MONTHS:
        return _make(_year(m.group(3), today), MONTHS[m.group(2)], int(m.group(1)))
    if (m := _MONTH_DAY.match(words)) and m.group(1) in MONTHS:
        return _make(_year(m.group(3), today), MONTHS[m.group(1)], int(m.group(2)))
    return None


def _year(text: str | None, today: date) -> int:
    if not text:
        return today.year
    year = int(text)
    if len(text) == 2:
        pivot = today.year % 100 + 1
        return 2000 + year if year <= pivot else 1900 + year
    return year


def _make(year: int, month: int, day: int) -> str | None:
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return None
