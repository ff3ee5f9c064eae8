"""Reading DATA in chunks gives exactly what a line-by-line reader would."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tellusonce_mail.smtpdata import DataReader, DataState

line_text = st.text(alphabet=".ab \t", max_size=12).map(str.encode)


def stuffed(lines: list[bytes]) -> bytes:
    return b"".join((b"." + line if line.startswith(b".") else line) + b"\r\n" for line in lines)


def read(stream: bytes, cuts: list[int], *, size_limit: int | None = None, line_limit: int = 1000) -> DataReader:
    """Feed ``stream`` cut at ``cuts``; what the reader never took is added to its leftover."""
    reader = DataReader(size_limit=size_limit, line_limit=line_limit)
    points = sorted({c % (len(stream) + 1) for c in cuts} | {len(stream)})
    start = 0
    for point in points:
        if reader.feed(stream[start:point]):
            reader.leftover += stream[point:]
            return reader
        start = point
    raise AssertionError("the terminator was never found")


@given(st.lists(line_text, max_size=20), st.lists(st.integers(0, 10_000), max_size=8), st.binary(max_size=10))
def test_any_chunking_gives_back_the_message_before_dot_stuffing(lines, cuts, after):
    stream = stuffed(lines) + b".\r\n" + after
    reader = read(stream, cuts)
    assert reader.state is DataState.NOMINAL
    assert reader.content == b"".join(line + b"\r\n" for line in lines)
    assert reader.leftover == after


@given(st.lists(line_text, min_size=1, max_size=20), st.lists(st.integers(0, 10_000), max_size=8))
def test_a_message_over_the_size_limit_is_too_much_whatever_the_chunking(lines, cuts):
    message = stuffed(lines)
    reader = read(message + b".\r\n", cuts, size_limit=len(message) - 1)
    assert reader.state is DataState.TOO_MUCH
    assert reader.content == b""


@given(st.integers(1, 30), st.lists(st.integers(0, 10_000), max_size=8))
def test_a_line_at_the_limit_passes_and_one_byte_more_is_too_long(length, cuts):
    fits = b"x" * (length - 2) + b"\r\n" if length >= 2 else b"\r\n"
    assert read(b"a\r\n" + fits + b".\r\n", cuts, line_limit=max(length, 3)).state is DataState.NOMINAL
    too_long = b"x" * (length + 1) + b"\r\n"
    assert read(b"a\r\n" + too_long + b".\r\n", cuts, line_limit=length + 2).state is DataState.TOO_LONG


def test_an_empty_message_is_just_the_terminator():
    reader = read(b".\r\n", [])
    assert reader.state is DataState.NOMINAL
    assert reader.content == b""


def test_a_dot_line_inside_a_line_is_not_the_end():
    reader = read(b"a.\r\n.b\r\n..\r\n.\r\n", [1, 2, 3, 5, 8])
    assert reader.content == b"a.\r\nb\r\n.\r\n"
