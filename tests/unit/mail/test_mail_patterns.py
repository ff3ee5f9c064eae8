"""Every regular expression in mail/ takes time in proportion to its input, however hostile.

A pattern that can match the same text in many ways (``\\s*[^:]{1,100}?\\s*:``, or
``[\\s|:-]*-{3,}[\\s|:-]*``) backtracks through every way on a line that fails at
its end: 1,201 spaces and an "x" once held processing for 458 seconds. Each
pattern here is tried on long runs of the characters it names (and of a few
others), after each word it contains, ending in a character that makes it
fail; each call must end within ``BOUND`` seconds. A pattern that backtracks
takes seconds on runs of this length; a linear one, well under a millisecond.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tellusonce_mail
from tellusonce_mail.mime import read_message
from tellusonce_mail.parser import parse_change
from tellusonce_mail.smtpdata import DataReader

BOUND = 0.5  # seconds of processor time for one call; a backtracking pattern takes far longer
RUN = 20_000  # characters in a run: a quadratic pattern takes seconds on this, a linear one microseconds
TODAY = date(2026, 11, 22)
DEPARTMENTS = {"dvla": ("Driver and Vehicle Licensing Agency (DVLA)",), "hmrc": ("HM Revenue and Customs (HMRC)",)}
ALWAYS = (" ", "\t", "x", "a", "1", "\u00a0")  # whitespace, a letter, a digit: in most classes


def _patterns() -> dict[str, re.Pattern]:
    found: dict[str, re.Pattern] = {}
    for module_info in pkgutil.iter_modules(tellusonce_mail.__path__):
        module = importlib.import_module(f"tellusonce_mail.{module_info.name}")
        for name, value in vars(module).items():
            if isinstance(value, re.Pattern):
                found[f"{module_info.name}.{name}"] = value
    return found


def _source(pattern: re.Pattern) -> str:
    return pattern.pattern.decode("latin-1") if isinstance(pattern.pattern, bytes) else pattern.pattern


PATTERNS = _patterns()


def _characters(pattern: re.Pattern) -> list[str]:
    """The punctuation the pattern names, and whitespace, letters and digits."""
    named = {c for c in _source(pattern) if not c.isalnum() and c not in "\\^$?+{}()" and not c.isspace()}
    return sorted(set(ALWAYS) | named)


def _words(pattern: re.Pattern) -> list[str]:
    """The words the pattern matches literally ("wrote", "confirm"), each of which may start a match."""
    return sorted(set(re.findall(r"[a-zé]{2,}", _source(pattern))) - {"za"})[:12]


class TooSlow(Exception):
    pass


@contextmanager
def at_most(seconds: float, what: str) -> Iterator[None]:
    """Interrupt the block once it has used ``seconds`` of this process's processor time (Python's
    regular expressions check for signals as they backtrack). Processor time, not the clock's: other
    work on a busy machine does not count against the bound, and pytest-timeout's alarm is left alone."""

    def interrupt(signum: int, frame: object) -> None:
        raise TooSlow(f"{what} took more than {seconds} s")

    previous = signal.signal(signal.SIGPROF, interrupt)
    signal.setitimer(signal.ITIMER_PROF, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)


def _try(name: str, pattern: re.Pattern, text: str) -> None:
    """``findall`` tries a match at every position, as ``search``, ``sub`` and ``split`` do, and ``match`` at the first."""
    subject = text.encode("utf-8", "surrogatepass") if isinstance(pattern.pattern, bytes) else text
    with at_most(BOUND, f"{name} on {text[:12]!r}… ({len(text)} characters)"):
        pattern.findall(subject)


@pytest.mark.parametrize("name", sorted(PATTERNS))
@pytest.mark.timeout(120)
def test_a_pattern_takes_bounded_time_on_long_runs_of_each_character_it_names(name):
    pattern = PATTERNS[name]
    characters = _characters(pattern)
    words = ["a@", *_words(pattern)]
    for lead in ["", *words, *characters]:
        for run in characters:
            for end in ("x", " "):  # a character most classes take, and one most refuse
                _try(name, pattern, lead + run * RUN + end)
                if lead in words:  # the word again and again, between runs: "re: re: re:"
                    _try(name, pattern, (lead + run) * (RUN // (len(lead) + 1)) + end)


@st.composite
def runs(draw: st.DrawFn, pattern: re.Pattern) -> str:
    """A few long runs of the pattern's characters and words, one after another."""
    tokens = st.sampled_from([*_characters(pattern), *_words(pattern), ": ", "-- ", "a@b", "\r"])
    parts = draw(st.lists(st.tuples(tokens, st.integers(1, 5_000)), min_size=1, max_size=5))
    return "".join(token * count for token, count in parts) + draw(st.sampled_from(["", "x", " ", "!", ":"]))


@pytest.mark.parametrize("name", sorted(PATTERNS))
@pytest.mark.timeout(120)
def test_a_pattern_takes_bounded_time_on_any_runs_of_its_characters(name):
    pattern = PATTERNS[name]

    @settings(max_examples=25, deadline=None, database=None)
    @given(runs(pattern))
    def check(text: str) -> None:
        _try(name, pattern, text)

    check()


def test_every_pattern_in_mail_is_a_named_module_constant_so_that_it_is_tried_here():
    inline = re.compile(r"\bre\.(?:match|search|fullmatch|findall|finditer|sub|subn|split)\(")
    offenders = [f"{path.name}:{n}" for path in sorted(Path(tellusonce_mail.__path__[0]).glob("*.py"))
                 for n, line in enumerate(path.read_text().splitlines(), start=1) if inline.search(line)]
    assert offenders == []
    assert len(PATTERNS) >= 20


@pytest.mark.timeout(120)
def test_the_smtp_data_reader_takes_bounded_time_on_long_runs():
    for run in (b"\n", b"\r\n", b"x", b" ", b".", b"\r\n."):
        reader = DataReader(size_limit=None, line_limit=8192)
        with at_most(BOUND, f"DataReader on runs of {run!r}"):
            reader.feed(run * 200_000)


# The two messages that froze the service (issue 14), end to end through the functions that read them.


@pytest.mark.timeout(5)
def test_a_change_with_a_line_of_1500_spaces_and_an_x_is_read_at_once():
    with at_most(BOUND, "parsing the change"):
        parsed = parse_change("Change: moving house\r\n" + " " * 1500 + "x\r\n", "", departments=DEPARTMENTS,
                              today=TODAY)
    assert parsed.change_type == "address"


@pytest.mark.timeout(5)
def test_an_html_only_message_with_a_pre_line_of_800_dashes_and_an_x_is_read_at_once():
    raw = (b"From: someone@example.org\r\nSubject: Moving house\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
           b"<html><body><p>Change: moving house</p><pre>" + b"-" * 800 + b"x</pre></body></html>\r\n")
    with at_most(BOUND, "reading the message"):
        read = read_message(raw)
    assert "Change: moving house" in read.text
    assert "-" * 800 + "x" in read.text


@pytest.mark.timeout(5)
def test_a_welsh_date_with_long_runs_of_ordinals_and_mutations_is_read_at_once():
    """The Welsh ordinals ("1af", "21ain") and "o" before a month ("o Fedi") add optional groups to
    the date patterns: each is tried once, however long the run."""
    from tellusonce_mail.dates import parse_date

    for text in ("1" + "af" * RUN, "1af " + "o " * RUN + "Fedi", "21ain o " + "f" * RUN + " 2026",
                 "Dydd Sul " * (RUN // 9) + "1 Tachwedd 2026", "Medi 1" + "ain" * RUN):
        with at_most(BOUND, f"parse_date on {text[:12]!r}…"):
            parse_date(text, today=TODAY)
