"""Dates as people type them: 1/11/2026, 1 November 2026, 1st Nov, 2026-11-01, yesterday,
1af o Dachwedd 2026, ddoe.

Numbers are read day first, as in the UK. A two-digit year is this century up
to next year, otherwise the last. A date without a year is this year. What
cannot be read is returned as None, and the caller keeps the words as typed so
that validation explains the problem.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from tellusonce.domain.months import MONTHS

_WEEKDAYS = re.compile(
    r"\b(mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)(day|nesday|rsday|urday)?\b|\b(dydd\s+\w+)\b", re.IGNORECASE
)
_ISO = re.compile(r"^(\d{4})\s*[-/.]\s*(\d{1,2})\s*[-/.]\s*(\d{1,2})$")
_NUMERIC = re.compile(r"^(\d{1,2})\s*[-/.]\s*(\d{1,2})\s*[-/.]\s*(\d{4}|\d{2})$")
# Ordinals in English (1st) and in Welsh (1af, 2il, 3ydd, 5ed, 7fed, 11eg, 21ain).
_ORDINAL = r"(?:st|nd|rd|th|af|il|ydd|ed|fed|eg|ain)?"
_DAY_MONTH = re.compile(rf"^(\d{{1,2}}){_ORDINAL}\s+(?:(?:of|o)\s+)?([a-z]+)\.?(?:\s+(\d{{4}}|\d{{2}}))?$")
_MONTH_DAY = re.compile(rf"^([a-z]+)\.?\s+(\d{{1,2}}){_ORDINAL}(?:\s+(\d{{4}}|\d{{2}}))?$")
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
