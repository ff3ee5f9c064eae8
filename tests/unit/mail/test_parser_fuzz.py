"""Whatever arrives, reading and parsing it never raises (hypothesis)."""

from __future__ import annotations

from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from tellusonce.domain.changetypes import CHANGE_TYPES
from tellusonce.domain.validation import ChangeInvalid, validate_change
from tellusonce_mail.labels import SYNONYMS
from tellusonce_mail.mime import read_message
from tellusonce_mail.parser import parse_change
from tellusonce_mail.rules import never_answer
from tests.unit.mail.strategies import header_text, messages

TODAY = date(2026, 11, 22)
LABELS = sorted({word for table in SYNONYMS.values() for words in table.values() for word in words}
                | {"Change", "Tell", "Postcode", "Date of move"})
DEPARTMENTS = {"dvla": ("Driver and Vehicle Licensing Agency (DVLA)",), "hmrc": ("HM Revenue and Customs (HMRC)",)}


@st.composite
def typed_changes(draw: st.DrawFn) -> str:
    """Lines a person might type, made of the labels the parser knows and values of any kind."""
    values = st.one_of(st.text(max_size=40), st.sampled_from(
        ["LS2 9JT", "1/11/2026", "31/2/2026", "yes", "no", "DVLA, HMRC", "everyone", "5 Park Road, Leeds, LS2 9JT",
         "Ada Lovelace", "married", "", "07700 900 982", "ada@example.org", "QQ 12 34 56 C"]))
    lines = [f"{draw(st.sampled_from(LABELS))}{draw(st.sampled_from([':', ' :', ': ', '：']))}{draw(values)}"
             for _ in range(draw(st.integers(0, 12)))]
    noise = st.sampled_from(["", "Hi,", "> quoted: line", "-- ", "Thanks", "[hint]", "   ", "On Monday X wrote:"])
    for _ in range(draw(st.integers(0, 4))):
        lines.insert(draw(st.integers(0, len(lines))), draw(noise))
    return "\n".join(lines)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=3000))
def test_any_bytes_at_all_are_read_without_raising(raw):
    read = read_message(raw)
    assert isinstance(read.text, str)
    never_answer(read, mail_from="x@example.org", mail_domain="tellusonce.test")


@settings(max_examples=300, deadline=None)
@given(messages())
def test_mail_shaped_bytes_with_any_charset_and_encoding_are_read_without_raising(raw):
    read = read_message(raw)
    parse_change(read.text, read.subject, departments=DEPARTMENTS, today=TODAY)


@settings(max_examples=400, deadline=None)
@given(typed_changes(), header_text)
def test_parsing_then_validating_raises_nothing_but_a_list_of_field_errors(text, subject):
    parsed = parse_change(text, subject, departments=DEPARTMENTS, today=TODAY)
    assert set(parsed.recipients) <= set(DEPARTMENTS)
    if parsed.change_type is None:
        return
    assert set(parsed.answers) <= set(CHANGE_TYPES[parsed.change_type].field_names)
    try:
        validate_change(parsed.change_type, parsed.answers, today=TODAY)
    except ChangeInvalid as invalid:
        assert all(error.render() for error in invalid.errors)
