"""Shapes of mail that were quarantined although a person could read them (issue 14): each is read."""

from __future__ import annotations

from datetime import date

import pytest

from tellusonce_mail.mime import MAX_DEPTH, read_message
from tellusonce_mail.parser import MAX_LINE_CHARS, MAX_LINES, parse_change

TODAY = date(2026, 11, 22)
DEPARTMENTS = {"dvla": ("Driver and Vehicle Licensing Agency (DVLA)",), "hmrc": ("HM Revenue and Customs (HMRC)",)}
CHANGE = "Change: moving house\nNew address: 5 Park Road, Leeds, LS2 9JT\n"


def nested(depth: int, innermost: bytes, *, kind: str) -> bytes:
    """``innermost`` (a part: headers and body) inside ``depth`` levels of multipart/mixed, or of
    attached messages, as bytes (the email package's own generator recurses too: it cannot write these)."""
    if kind == "multipart":
        opening = b"".join(b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i)
                           for i in range(depth))
        closing = b"".join(b"\r\n--b%d--\r\n" % i for i in reversed(range(depth)))
        return opening + innermost + closing
    return b"Content-Type: message/rfc822\r\n\r\nSubject: Fwd\r\n" * depth + innermost


def plain(text: str) -> bytes:
    return b"Content-Type: text/plain; charset=utf-8\r\n\r\n" + text.replace("\n", "\r\n").encode()


def typed_then(attachment: bytes) -> bytes:
    """A change typed in the first part, then ``attachment``: what a mail program sends."""
    return (b'From: ada@example.org\r\nSubject: Moving house\r\nContent-Type: multipart/mixed; boundary="top"\r\n'
            b"\r\n--top\r\n" + plain(CHANGE) + b"\r\n--top\r\n" + attachment + b"\r\n--top--\r\n")


@pytest.mark.parametrize("kind", ["multipart", "message"])
def test_a_thousand_levels_of_nesting_are_read_to_a_sane_depth_and_the_rest_ignored(kind):
    raw = typed_then(nested(1000, plain("Tell: everyone\n"), kind=kind))
    read = read_message(raw)
    assert "Change: moving house" in read.text
    assert read.parts_too_deep


@pytest.mark.parametrize("kind", ["multipart", "message"])
def test_a_body_nested_a_thousand_levels_deep_is_not_read_and_nothing_raises(kind):
    read = read_message(b"From: ada@example.org\r\n" + nested(1000, plain(CHANGE), kind=kind))
    assert read.parts_too_deep
    assert read.from_address == "ada@example.org"


def test_nesting_within_the_sane_depth_is_read_whole():
    read = read_message(b"From: ada@example.org\r\n" + nested(MAX_DEPTH - 2, plain(CHANGE), kind="multipart"))
    assert "Change: moving house" in read.text
    assert not read.parts_too_deep


@pytest.mark.parametrize("charset", ["idna", "undefined", "utf-8\x00", "punycode", "hex", "rot13", "x-unknown"])
def test_a_charset_python_cannot_decode_with_is_read_as_utf_8(charset):
    raw = (b"From: ada@example.org\r\nSubject: Moving house\r\nContent-Type: text/plain; charset=\""
           + charset.encode() + b"\"\r\n\r\n" + "Change: moving house\r\nNew name: Siân\r\n".encode())
    read = read_message(raw)
    assert "Change: moving house" in read.text
    assert "Siân" in read.text


@pytest.mark.parametrize("charset", ["idna", "undefined", "utf-16", "punycode"])
def test_an_encoded_parameter_in_a_charset_python_cannot_decode_with_is_ignored(charset):
    raw = (b"From: ada@example.org\r\nSubject: Moving house\r\nContent-Type: text/plain; charset*="
           + charset.encode() + b"''%E9%80x; name*0*=" + charset.encode() + b"''%E9\r\n\r\nChange: moving house\r\n")
    read = read_message(raw)
    assert "Change: moving house" in read.text


def test_lines_longer_than_an_email_line_may_be_are_not_read_and_counted():
    parsed = parse_change("Change: moving house\n" + "Postcode: " + "x" * MAX_LINE_CHARS + "\n", "",
                          departments=DEPARTMENTS, today=TODAY)
    assert parsed.change_type == "address"
    assert "postcode" not in parsed.answers
    assert parsed.long_lines == 1


def test_lines_after_the_first_few_hundred_are_not_read_and_counted():
    text = "Change: moving house\n" + "Thanks\n" * (MAX_LINES - 1) + "Postcode: LS2 9JT\nTell: DVLA\n"
    parsed = parse_change(text, "", departments=DEPARTMENTS, today=TODAY)
    assert "postcode" not in parsed.answers
    assert parsed.lines_not_read == 2
