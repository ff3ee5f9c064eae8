"""Every error message a change can give reads as the GOV.UK Design System writes them.

The test provokes each message of each change type — every answer left out,
every answer in a wrong format or too long, every date out of its range, every
"give at least one" group left empty — and checks it against the patterns of
the design system's guidance for that component: text inputs and addresses say
"Enter …", radios "Select …", a declaration "Confirm …", dates "… must be a real
date", "… must include a month", "Year must include 4 numbers", "… must be today
or in the past" and so on. A label is never pasted mid-sentence with its
capital letter ("Select an option for Reason for the change").
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest

from tellusonce.domain.changetypes import CHANGE_TYPES, ChangeType
from tellusonce.domain.validation import ChangeInvalid, validate_change

TODAY = date(2026, 11, 22)

# A wrong answer of each kind, as someone might email it.
WRONG = {
    "text": "x" * 201,
    "name": "R2D2",
    "date": "2026-02-31",
    "postcode": "LS1 1CA",
    "ni_number": "AB 12 34 56",
    "phone": "12",
    "email": "name-at-example.com",
    "bool": "maybe",
    "choice": "eloped",
    "declaration": False,
}
# Answers longer than their kind allows (a text answer's wrong answer is already too long).
TOO_LONG = {"name": "a" * 101, "postcode": "LS1 1AAAAAAA", "email": "a" * 310 + "@example.com"}

THE_SUBJECT = r"(your|their|the|a|an) [a-z]"
# The GOV.UK address pattern's own messages, which name the field without an article.
ADDRESS_PATTERN = r"(address line 1, typically the building and street|town or city|postcode)"
SENTENCE_START = r"[A-Z][a-z’']*( [a-z0-9’']+| National Insurance)*"
PATTERNS = [re.compile(p) for p in (
    rf"Enter {THE_SUBJECT}.*",
    rf"Enter {ADDRESS_PATTERN}",
    r"Enter a real postcode, like LS1 1AA",
    r"Enter a National Insurance number in the correct format, like QQ 12 34 56 C",
    r"Enter a phone number, like 0113 496 0000, 07911 123456 or \+44 808 157 0192",
    r"Enter an email address in the correct format, like name@example\.com",
    rf"Select (why|yes if|{THE_SUBJECT}).*",
    r"Confirm (you|that) .+",
    rf"{SENTENCE_START} must be a real date",
    rf"{SENTENCE_START} must include a (day|month|year)",
    r"Year must include 4 numbers",
    rf"{SENTENCE_START} must be today or in the past",
    rf"{SENTENCE_START} must be after 1 January 1900",
    rf"{SENTENCE_START} must be no more than 3 months in the future",
    rf"{SENTENCE_START} must be within the last 5 years",
    rf"{SENTENCE_START} must be the same as or after their date of birth",
    rf"{SENTENCE_START} must be \d+ characters or less",
    rf"{SENTENCE_START} must only include letters, spaces, hyphens, apostrophes and full stops",
)]


def _messages(change_type: ChangeType, answers: dict[str, Any]) -> dict[str, str]:
    try:
        validate_change(change_type.id, answers, today=TODAY)
    except ChangeInvalid as invalid:
        return {e.field: e.render() for e in invalid.errors}
    return {}


def every_message(change_type: ChangeType) -> list[tuple[str, str]]:
    """(what provoked it, the message) for every error this change type can give."""
    found: list[tuple[str, str]] = []

    def provoke(why: str, answers: dict[str, Any], field: str | None = None) -> None:
        messages = _messages(change_type, answers)
        wanted = {field: messages[field]} if field in messages else messages if field is None else {}
        found.extend((f"{why}: {name}", message) for name, message in wanted.items())

    provoke("nothing given", {})
    for f in change_type.fields:
        provoke("wrong", {f.name: WRONG[f.kind]}, f.name)
        if f.kind in TOO_LONG:
            provoke("too long", {f.name: TOO_LONG[f.kind]}, f.name)
        if f.kind == "date":
            for day in ("2031-01-01", "2020-01-01", "1899-12-31"):
                provoke(f"the date {day}", {f.name: day}, f.name)
    if change_type.id == "death":
        provoke("died before born", {"deceased_date_of_birth": "1990-01-01", "date_of_death": "1980-01-01"}, "date_of_death")
    return found


ALL = [(ct.id, why, message) for ct in CHANGE_TYPES.values() for why, message in every_message(ct)]


def test_every_change_type_has_messages_to_check():
    assert {ct for ct, _, _ in ALL} == set(CHANGE_TYPES)
    assert len(ALL) > 100


@pytest.mark.parametrize(("change_type", "why", "message"), ALL, ids=[f"{c}-{w}" for c, w, _ in ALL])
def test_every_error_message_follows_the_govuk_pattern(change_type, why, message):
    assert any(p.fullmatch(message) for p in PATTERNS), f"{change_type}, {why}: {message!r}"
    assert not message.endswith("."), message
    assert "  " not in message


@pytest.mark.parametrize(("change_type", "answers", "field", "message"), [
    ("name", {}, "reason", "Select why your name changed"),
    ("name", {}, "change_date", "Enter the date your name changed"),
    ("address", {}, "move_date", "Enter the date you moved"),
    ("address", {}, "address_line_1", "Enter address line 1, typically the building and street"),
    ("address", {}, "given_names", "Enter your given names"),
    ("contact", {}, "email", "Enter a new email address or a new phone number"),
    ("death", {}, "reporter_relationship", "Select your relationship to them"),
    ("death", {}, "date_of_death", "Enter the date of death"),
    ("birth", {}, "child_given_names", "Enter the child's given names"),
    ("birth", {}, "reporter_relationship", "Select your relationship to the child"),
])
def test_the_messages_named_in_the_issue_now_read_as_govuk_writes_them(change_type, answers, field, message):
    assert _messages(CHANGE_TYPES[change_type], answers)[field] == message


@pytest.mark.parametrize("kind", ["postcode", "ni_number", "phone", "email"])
def test_every_example_a_message_gives_is_accepted(kind):
    from tellusonce.domain.fields import FORMAT_CHECKER, KINDS

    examples = re.split(r", | or ", KINDS[kind].invalid.split(", like ", 1)[1])
    assert examples
    for example in examples:
        assert FORMAT_CHECKER.conforms(example, str(KINDS[kind].schema["format"])), example
