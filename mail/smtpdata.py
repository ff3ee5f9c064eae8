"""Reading an SMTP DATA section in large chunks instead of line by line.

aiosmtpd reads DATA one line at a time in Python; ten 9 MB messages arriving at
once keep the event loop busy long enough to stall every other session
(aiosmtpd #293). ``DataReader`` takes whatever the socket delivered (the
listener's session feeds it from ``data_received``, so the message never reaches
aiosmtpd's stream), finds the
``<CRLF>.<CRLF>`` terminator, checks the size and line-length limits and undoes
dot-stuffing (RFC 5321 §4.5.2) with a few C-speed byte operations per chunk.
"""

from __future__ import annotations

import re
from enum import Enum

TERMINATOR = b"\r\n.\r\n"


class DataState(Enum):
    NOMINAL = "nominal"
    TOO_LONG = "too_long"  # a line (with its CRLF) longer than the limit: 500
    TOO_MUCH = "too_much"  # over the size limit: 552


class DataReader:
    """Feed it chunks until ``feed`` returns True; then read ``state``, ``content`` and ``leftover``."""

    def __init__(self, *, size_limit: int | None, line_limit: int) -> None:
        self.size_limit = size_limit
        self.state = DataState.NOMINAL
        self.leftover = b""  # bytes after the terminator (a client that did not wait for our reply)
        # The stream as received, behind a virtual CRLF so that an empty message (".\r\n")
        # and a first line starting with a dot look like every other line.
        self._buffer = bytearray(b"\r\n")
        self._received = 0  # bytes of message data counted towards the size limit
        self._line_start = 2  # where the line being received starts in _buffer
        # A newline followed by a line of ``line_limit`` bytes before its own newline (the
        # CR of its CRLF included): one or more bytes too many. _buffer[_line_start - 1] is
        # always a newline, so every line is found by the literal-prefix search.
        self._long_line = re.compile(rb"\n[^\n]{%d}" % line_limit)
        self._content = b""
        self.done = False

    def feed(self, chunk: bytes) -> bool:
        """Take the next chunk from the socket; True once the terminator has been seen."""
        if self.done:
            raise RuntimeError("the DATA section has already ended")
        search_from = max(0, len(self._buffer) - (len(TERMINATOR) - 1))
        self._buffer += chunk
        end = self._buffer.find(TERMINATOR, search_from)
        if end >= 0:
            self.leftover = bytes(self._buffer[end + len(TERMINATOR):])
            self._account(end + 2)  # the message data ends with the CRLF before the dot
            if self.state is DataState.NOMINAL:
                body = self._buffer[2:end + 2]
                self._content = bytes(body.replace(b"\r\n.", b"\r\n"))
                if self._content.startswith(b"."):
                    self._content = self._content[1:]
            self._buffer = bytearray()
            self.done = True
            return True
        self._account(len(self._buffer))
        return False

    def _account(self, end: int) -> None:
        """Check the limits on ``_buffer[:end]``; once over one, keep only a tail to find the terminator."""
        if self.state is DataState.NOMINAL:
            self._received = end - 2
            if self.size_limit and self._received > self.size_limit:
                self.state = DataState.TOO_MUCH
            elif self._long_line.search(self._buffer, self._line_start - 1, end):
                self.state = DataState.TOO_LONG
            else:
                newline = self._buffer.rfind(b"\n", self._line_start, end)
                if newline >= 0:
                    self._line_start = newline + 1
        if self.state is not DataState.NOMINAL and not self.done and len(self._buffer) > len(TERMINATOR):
            del self._buffer[: len(self._buffer) - (len(TERMINATOR) - 1)]

    @property
    def content(self) -> bytes:
        """The message, dot-stuffing undone; empty unless ``state`` is NOMINAL."""
        return self._content
