"""The retention schedule file: read, checked with errors naming the line, and its periods."""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tellusonce.config_files import load_schedule
from tellusonce.domain.retention import Action, Kind, Period, RetentionError, parse_schedule
from tellusonce.settings import PROJECT_ROOT

SCHEDULE = PROJECT_ROOT / "config" / "retention.toml"


def written(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "retention.toml"
    path.write_text(text, encoding="utf-8")
    return path


def replaced(tmp_path: Path, old: str, new: str) -> Path:
    text = SCHEDULE.read_text(encoding="utf-8")
    assert old in text
    return written(tmp_path, text.replace(old, new, 1))


def line_of(path: Path, needle: str, *, after: str = "") -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if after in line)
    return next(i for i, line in enumerate(lines[start:], start=start + 1) if needle in line)


def test_the_shipped_schedule_has_every_kind_with_a_reason_in_both_languages() -> None:
    schedule = load_schedule(SCHEDULE)
    assert [rule.kind for rule in schedule.rules] == list(Kind)
    assert all(rule.reason and rule.reason_cy and rule.reason != rule.reason_cy for rule in schedule.rules)
    assert schedule.rule(Kind.NOTIFICATION_PAYLOADS).keep == Period(30, "day")
    assert schedule.rule(Kind.NOTIFICATION_PAYLOADS).then == Action.BLANK
    assert str(schedule.rule(Kind.AUDIT_EVENTS).keep) == "6 years"


@pytest.mark.parametrize(("old", "new", "needle", "after", "message"), [
    ('keep = "30 days"\nthen = "blank"\nreason = "The details', 'keep = "30 dayz"\nthen = "blank"\nreason = "The details',
     "30 dayz", "", "field 'keep': must be a period like"),
    ('keep = "1 year"\nthen = "delete"', 'keep = "1 year"\nthen = "blank"', 'then = "blank"', "[delivery_attempts]",
     "must be 'delete' for delivery_attempts"),
    ('[dead_letters]', '[dead_leters]', "[dead_leters]", "", "unknown kind of data (did you mean 'dead_letters'?)"),
    ('keep = "7 days"\nthen = "delete"', 'keep = "7 days"\nthen = "delete"\nkepe = 3', "kepe", "",
     "unknown field (did you mean 'keep'?)"),
    ('keep = "1 day"', 'keep = "0 days"', 'keep = "0 days"', "", "must be a period like"),
    ('then = "delete"\nreason = "Answers', 'then = "delete"\nreason = "  "\nrea = "Answers', 'reason = "  "', "",
     "field 'rea': unknown field"),
])
def test_a_mistake_is_named_with_its_line(tmp_path: Path, old: str, new: str, needle: str, after: str,
                                          message: str) -> None:
    path = replaced(tmp_path, old, new)
    with pytest.raises(RetentionError) as error:
        load_schedule(path)
    expected = line_of(path, "rea =" if "'rea'" in message else needle, after=after)
    assert f"{path}:{expected}:" in str(error.value)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_a_reason_without_its_welsh_is_refused(tmp_path: Path) -> None:
    text = SCHEDULE.read_text(encoding="utf-8")
    start = text.index("[journeys]")
    end = text.index("reason_cy", start)
    path = written(tmp_path, text[:end] + text[text.index("\n", end) + 1:])
    with pytest.raises(RetentionError, match=rf"{path}:{line_of(path, '[journeys]')}: \[journeys\]: is missing the field 'reason_cy'"):
        load_schedule(path)


def test_every_kind_needs_a_period(tmp_path: Path) -> None:
    text = SCHEDULE.read_text(encoding="utf-8")
    path = written(tmp_path, text[:text.index("[audit_events]")])
    with pytest.raises(RetentionError, match="no period for audit_events"):
        load_schedule(path)


def test_a_file_that_is_not_toml_or_not_there_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RetentionError, match="not valid TOML"):
        load_schedule(written(tmp_path, "[journeys\n"))
    with pytest.raises(RetentionError, match="cannot read the retention schedule"):
        load_schedule(tmp_path / "missing.toml")


def test_periods_count_back_from_now_in_days_weeks_and_calendar_years() -> None:
    now = datetime(2028, 2, 29, 12, 0, tzinfo=UTC)
    assert Period(30, "day").cutoff(now) == datetime(2028, 1, 30, 12, 0, tzinfo=UTC)
    assert Period(2, "week").cutoff(now) == datetime(2028, 2, 15, 12, 0, tzinfo=UTC)
    assert Period(6, "year").cutoff(now) == datetime(2022, 2, 28, 12, 0, tzinfo=UTC)


def test_the_schedule_is_checked_from_its_text_and_a_mistake_names_where_it_came_from() -> None:
    text = SCHEDULE.read_text(encoding="utf-8")
    assert [rule.kind for rule in parse_schedule(text, Path("nowhere.toml")).rules] == list(Kind)
    with pytest.raises(RetentionError, match=r"^nowhere\.toml:\d+: \[journeys\], field 'keep'"):
        parse_schedule(text.replace('keep = "1 day"', 'keep = "soon"', 1), Path("nowhere.toml"))


def test_the_domain_reads_no_files() -> None:
    """The rules take text; reading a configuration file is tellusonce.config_files' job."""
    reading = {"open", "read_text", "read_bytes", "write_text", "write_bytes", "load", "iterdir", "glob"}
    found = []
    for path in sorted((PROJECT_ROOT / "tellusonce" / "domain").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                if name in reading:
                    found.append(f"{path.name}:{node.lineno} {name}()")
    assert not found
