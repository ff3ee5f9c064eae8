"""The typed layout of an emailed change, read into the answers the web form would give.

    Change: moving house
    New address: 5 Park Road, Leeds, LS2 9JT
    Date of move: 1 November 2026
    Tell: DVLA, HMRC

One "Label: value" a line, in any case and spacing, with the words people use
(``tellusonce_mail.labels``); an address or a name may be given whole or field by field,
and a label with nothing after it takes the lines below it (an address typed on
several lines). The change is named on a "Change:" line, or in the Subject, or
is recognised from the labels used. Everything that is not understood is
listed so that the reply can say so. The answers then go through exactly the
validation the web form uses (``validate_change``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from tellusonce.domain.changetypes import CHANGE_TYPES, ChangeType
from tellusonce_mail.dates import parse_date
from tellusonce_mail.labels import (
    ADDRESS_PARTS,
    CHANGE,
    CHOICE_SYNONYMS,
    GLOBAL,
    NAME_PARTS,
    NO,
    PREVIOUS_ADDRESS,
    TELL,
    YES,
    change_names,
    choice_labels,
    is_label,
    lookup,
    norm,
)

# Every pattern here takes time in proportion to its input: no two quantifiers can match the
# same characters one after the other (``\s*[^:]*?\s*`` took minutes on a line of spaces).
# tests/unit/mail/test_mail_patterns.py tries each on long runs of the characters it names.
_COLON = re.compile(r"[:：]")
_BULLETS = "*•>-"
MAX_LABEL_CHARS = 100
_POSTCODE_AT_END = re.compile(r"(?:^|\s)([A-Za-z]{1,2}\d[A-Za-z\d]?\s*\d[A-Za-z]{2})\s*$")
_SUBJECT_PREFIX = re.compile(r"^\s*(?:(?:re|fw|fwd|aw|wg|ateb|ymlaen)\s*(?:\[\d+\]\s*)?:\s*)+", re.IGNORECASE)
_LIST_SEPARATOR = re.compile(r",|;|/|&|\+|\band\b|\n", re.IGNORECASE)
_LEADING_ARTICLE = re.compile(r"^(?:the|my|our|y|yr) ")
_ADDRESS_SEPARATOR = re.compile(r"[,;\n]")
_BRACKETED = re.compile(r"\(([^()]*)\)")  # innermost brackets: each is scanned once
TELL_EVERYONE = frozenset({"all", "everyone", "everybody", "all of them", "all organisations", "all organizations",
                           "all departments", "pawb", "everyone who needs to know", "pob un", "pob un ohonyn nhw",
                           "pob sefydliad", "yr holl sefydliadau", "pawb sydd angen gwybod"})
_TRIM_VALUE_KINDS = frozenset({"date", "postcode", "ni_number", "phone", "email", "choice", "bool", "declaration"})
# Bounds on what is read (docs/mail-security.md): a line longer than an email line may be
# (998 characters, RFC 5322) is no "Label: value" a person typed, and a change fits in far fewer
# lines than these. What is left unread is counted, and the reply says so.
MAX_LINES = 400
MAX_LINE_CHARS = 1000


@dataclass(frozen=True)
class ParsedChange:
    change_type: str | None
    answers: dict[str, Any] = field(default_factory=dict)
    recipients: tuple[str, ...] = ()  # registry ids named on the Tell line
    tell_given: bool = False  # whether a Tell line was there at all
    tell_all: bool = False  # "Tell: everyone"
    unknown_recipients: tuple[str, ...] = ()  # names on the Tell line that match no organisation (or several)
    unrecognised: tuple[str, ...] = ()  # labels not understood for this change
    named_in: str | None = None  # "body" | "subject" | "labels"
    unknown_change: str | None = None  # what followed "Change:" when it is no change we know
    long_lines: int = 0  # lines longer than MAX_LINE_CHARS, not read
    lines_not_read: int = 0  # lines (not blank) after the first MAX_LINES, not read


@dataclass
class _Pair:
    label: str
    value: str
    lines: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        parts = [self.value, *self.lines] if self.value else self.lines
        return ", ".join(p.strip(" ,") for p in parts if p.strip(" ,"))


def parse_change(text: str, subject: str, *, departments: Mapping[str, Sequence[str]], today: date) -> ParsedChange:
    """Read a typed change; ``departments`` maps each registry id to the names it is known by."""
    lines = text.splitlines()
    pairs, first_line, long_lines = _pairs(lines[:MAX_LINES])
    bounds = {"long_lines": long_lines, "lines_not_read": sum(1 for line in lines[MAX_LINES:] if line.strip())}
    change_type, named_in, unknown_change = _change_type(pairs, subject, first_line)
    tell = [p for p in pairs if norm(p.label) in _tell_labels()]
    recipients, unknown, tell_all = _recipients(" , ".join(p.text for p in tell), departments)
    if change_type is None:
        return ParsedChange(None, {}, recipients, bool(tell), tell_all, unknown, (), None, unknown_change, **bounds)
    answers, unrecognised = _answers(change_type, pairs, today)
    return ParsedChange(change_type.id, answers, recipients, bool(tell), tell_all, unknown, unrecognised, named_in,
                        None, **bounds)


def _tell_labels() -> frozenset[str]:
    return frozenset(norm(w) for w in GLOBAL[TELL])


def _pairs(lines: list[str]) -> tuple[list[_Pair], str | None, int]:
    """Label/value pairs in order; a label with nothing after it (or an address) takes the lines below.
    Also the first line that is no label, and how many lines were too long to read."""
    pairs: list[_Pair] = []
    first_line: str | None = None
    current: _Pair | None = None
    long_lines = 0
    for line in lines:
        if len(line) > MAX_LINE_CHARS:
            long_lines += 1
            current = None
            continue
        if not line.strip():
            current = None
            continue
        if line.strip().startswith("[") and line.strip().endswith("]"):
            continue  # a hint from our blank template
        label_value = label_line(line)
        if label_value:
            pair = _Pair(*label_value)
            pairs.append(pair)
            current = pair if is_label(pair.label) else None
            continue
        if current is not None and (not current.value or _takes_lines(current.label)):
            current.lines.append(line.strip())
            continue
        if first_line is None and not pairs:
            first_line = line.strip()
        current = None
    return pairs, first_line, long_lines


def label_line(line: str) -> tuple[str, str] | None:
    """ "  - New address : 5 Park Road " -> ("New address", "5 Park Road"); None if the line has no label:
    no colon, nothing before it but a bullet, or more than ``MAX_LABEL_CHARS`` before it."""
    colon = _COLON.search(line)
    if colon is None:
        return None
    label = line[:colon.start()].strip()
    if label[:1] and label[0] in _BULLETS:
        label = label[1:].lstrip()
    if not label or len(label) > MAX_LABEL_CHARS:
        return None
    return label, line[colon.end():].strip()


def _takes_lines(label: str) -> bool:
    """Labels whose answer may run over several lines: addresses and the Tell list."""
    return any(
        (target := lookup(ct, label)) is not None
        and (target in ADDRESS_PARTS or target in (PREVIOUS_ADDRESS, TELL))
        for ct in CHANGE_TYPES
    )


def _change_type(pairs: list[_Pair], subject: str, first_line: str | None) -> tuple[ChangeType | None, str | None, str | None]:
    named = [p for p in pairs if lookup("address", p.label) == CHANGE]
    if named:
        typed = named[0].text
        found = _named(typed)
        return (found, "body", None) if found else (None, None, typed[:100] or None)
    cleaned = _SUBJECT_PREFIX.sub("", subject or "")
    found = _named(cleaned)
    if found:
        return found, "subject", None
    if first_line and (found := _named(first_line)):
        return found, "body", None
    scores = {ct: sum(1 for p in pairs if (t := lookup(ct, p.label)) and not t.startswith("#")) for ct in CHANGE_TYPES}
    best = max(scores.values(), default=0)
    winners = [ct for ct, score in scores.items() if score == best]
    # Only labels that belong to one kind of change decide it (Postcode alone could be anything).
    specific = {ct: sum(1 for p in pairs if _only_in(ct, p.label)) for ct in CHANGE_TYPES}
    leader = max(specific, key=lambda ct: specific[ct])
    if specific[leader] > 0 and sum(1 for v in specific.values() if v == specific[leader]) == 1:
        return CHANGE_TYPES[leader], "labels", None
    if best > 0 and len(winners) == 1:
        return CHANGE_TYPES[winners[0]], "labels", None
    return None, None, None


def _only_in(change_type_id: str, label: str) -> bool:
    target = lookup(change_type_id, label)
    if target is None or target.startswith("#"):
        return False
    return all(lookup(other, label) is None for other in CHANGE_TYPES if other != change_type_id)


def _named(text: str) -> ChangeType | None:
    """The change ``text`` names, in English or Welsh ("Moving house", "Symud tŷ"), or one it mentions."""
    found = change_names().get(norm(text))
    return CHANGE_TYPES[found] if found else _mentioned(text)


def _mentioned(text: str) -> ChangeType | None:
    """A change type named somewhere in ``text`` ("I am moving house next week"): the longest name wins."""
    words = f" {norm(text)} "
    best: tuple[int, ChangeType] | None = None
    for phrase, change_type_id in change_names().items():
        if len(phrase) >= 4 and f" {phrase} " in words and (best is None or len(phrase) > best[0]):
            best = (len(phrase), CHANGE_TYPES[change_type_id])
    return best[1] if best else None


def _answers(change_type: ChangeType, pairs: list[_Pair], today: date) -> tuple[dict[str, Any], tuple[str, ...]]:
    explicit: dict[str, Any] = {}
    derived: dict[str, Any] = {}
    unrecognised: list[str] = []
    for pair in pairs:
        target = lookup(change_type.id, pair.label)
        if target is None:
            unrecognised.append(pair.label.strip()[:60])
            continue
        if target.startswith("#"):
            continue
        value = pair.text
        if target in NAME_PARTS:
            _merge(derived, dict(zip(NAME_PARTS[target], split_name(value), strict=True)))
        elif target in ADDRESS_PARTS:
            _merge(derived, dict(zip(ADDRESS_PARTS[target], split_address(value), strict=True)))
        elif target == PREVIOUS_ADDRESS:
            lines, postcode = _postcode_off(_address_parts(value))
            _merge(derived, {"previous_address": ", ".join(lines) or None, "previous_postcode": postcode})
        elif value:
            explicit[target] = _value(change_type, target, value, today)
    answers = {k: v for k, v in derived.items() if v not in (None, "")}
    for name, value in list(answers.items()):
        answers[name] = _value(change_type, name, value, today)
    answers.update(explicit)  # a field named on its own wins over one taken from a whole address or name
    return {k: v for k, v in answers.items() if k in change_type.field_names}, tuple(dict.fromkeys(unrecognised))


def _merge(into: dict[str, Any], values: Mapping[str, Any]) -> None:
    for name, value in values.items():
        if value not in (None, ""):
            into[name] = value


def _value(change_type: ChangeType, name: str, text: str, today: date) -> Any:
    f = change_type.field(name)
    value = text.strip()
    if f.kind in _TRIM_VALUE_KINDS:
        value = value.strip(" .,;!")
    if f.kind == "date":
        return parse_date(value, today=today) or value
    if f.kind in ("bool", "declaration"):
        word = norm(value)
        if word in YES or word.startswith("yes"):
            return True
        if f.kind == "bool" and (word in NO or word.startswith("no ")):
            return False
        return value
    if f.kind == "choice":
        return match_choice(f.choices, value)
    return value


def match_choice(choices: Sequence[tuple[str, str]], typed: str) -> str:
    """The choice's id for what was typed ("married", "I am his daughter"), or the words as typed."""
    words = norm(typed)
    for prefix in ("i am their ", "i am his ", "i am her ", "i am the ", "i am a ", "i am ", "im ", "their ", "his ",
                   "her ", "the ", "a ", "an ", "my ", "by ",
                   # Welsh: "rwy’n ei ferch" (I am his daughter), "fy ngŵr" aside, "trwy weithred newid enw"
                   "rwyn ", "dwin ", "dw in ", "rydw in ", "fi yw ", "ei ", "eu ", "fy ", "yr ", "y ", "trwy "):
        if words.startswith(prefix):
            words = words[len(prefix):]
            if prefix in ("rwyn ", "dwin ", "dw in ", "rydw in ") and words.startswith(("ei ", "eu ", "y ", "yr ")):
                words = words.split(" ", 1)[1]
            break
    for value, label in choices:
        if words == norm(value) or words in choice_labels(label):
            return value
    ids = {value for value, _ in choices}
    for value, synonyms in CHOICE_SYNONYMS.items():
        if value in ids and any(words == norm(s) or f" {norm(s)} " in f" {words} " for s in synonyms):
            return value
    return typed.strip()


def split_name(text: str) -> tuple[str | None, str | None]:
    """"Ada Lovelace" -> ("Ada", "Lovelace"); "Lovelace, Ada" -> ("Ada", "Lovelace")."""
    if "," in text:
        family, _, given = text.partition(",")
        return (given.strip() or None, family.strip() or None)
    words = text.split()
    if not words:
        return None, None
    if len(words) == 1:
        return words[0], None
    return " ".join(words[:-1]), words[-1]


def _address_parts(text: str) -> list[str]:
    return [part.strip() for part in _ADDRESS_SEPARATOR.split(text) if part.strip()]


def _postcode_off(parts: list[str]) -> tuple[list[str], str | None]:
    """Take a postcode off the end of the last part ("Leeds LS2 9JT" -> "Leeds", "LS2 9JT")."""
    if not parts:
        return parts, None
    match = _POSTCODE_AT_END.search(parts[-1])
    if not match:
        return parts, None
    rest = parts[-1][: match.start(1)].strip()
    return (parts[:-1] + ([rest] if rest else [])), match.group(1).upper()


def split_address(text: str) -> tuple[str | None, str | None, str | None, str | None]:
    """"5 Park Road, Headingley, Leeds, LS2 9JT" -> line 1, line 2, town, postcode."""
    parts, postcode = _postcode_off(_address_parts(text))
    if not parts:
        return None, None, None, postcode
    if len(parts) == 1:
        return parts[0], None, None, postcode
    return parts[0], ", ".join(parts[1:-1]) or None, parts[-1], postcode


def _recipients(text: str, departments: Mapping[str, Sequence[str]]) -> tuple[tuple[str, ...], tuple[str, ...], bool]:
    """Registry ids for the names typed on the Tell line, the names not matched, and "everyone"."""
    found: list[str] = []
    unknown: list[str] = []
    tell_all = False
    keys = {dept: _department_keys(dept, names) for dept, names in departments.items()}
    for typed in _LIST_SEPARATOR.split(text):
        name = _LEADING_ARTICLE.sub("", norm(typed), count=1)
        if not name:
            continue
        if name in TELL_EVERYONE:
            tell_all = True
            continue
        matches = [dept for dept, dept_keys in keys.items() if any(_names_match(name, key) for key in dept_keys)]
        exact = [dept for dept, dept_keys in keys.items() if name in dept_keys]
        chosen = exact if len(exact) == 1 else matches
        if len(chosen) == 1:
            if chosen[0] not in found:
                found.append(chosen[0])
        else:
            unknown.append(typed.strip()[:60])
    return tuple(found), tuple(dict.fromkeys(unknown)), tell_all


def _department_keys(dept_id: str, names: Sequence[str]) -> set[str]:
    keys = {norm(dept_id)}
    for name in names:
        keys.add(norm(name))
        keys.update(norm(inner) for inner in _BRACKETED.findall(name))
        keys.add(norm(_BRACKETED.sub(" ", name)))
    return {k for k in keys if k}


def _names_match(typed: str, key: str) -> bool:
    """Every typed word starts like a word of the name ("tv licence" ~ "tv licensing")."""
    if typed == key:
        return True
    key_words = key.split()
    typed_words = typed.split()
    if len(typed) < 2 or not typed_words:
        return False
    return all(any(_same_word(t, k) for k in key_words) for t in typed_words)


def _same_word(typed: str, word: str) -> bool:
    if typed == word:
        return True
    stem = min(len(typed), len(word), 5)
    return stem >= 4 and typed[:stem] == word[:stem]
