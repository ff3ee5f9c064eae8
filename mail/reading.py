"""Reading a stored message apart from the database, in a process of its own, within a time budget.

Reading a message (MIME, charsets, HTML) and parsing the change typed in it is
pure Python on bytes a stranger chose. It runs before any write transaction,
so a slow message holds no lock that others wait for; and it runs in a child
process, because a thread cannot stop Python code that is busy: past
``seconds`` the child is killed (and a new one started for the next message),
and the message is quarantined with the reason. The child is started once and
reads one message after another: what each message costs beyond reading it
is a pickle each way through a pipe.
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from tellusonce_mail.mime import ReadMessage, read_message
from tellusonce_mail.parser import ParsedChange, parse_change

log = logging.getLogger(__name__)

START_SECONDS = 60.0  # for the child to start and import what it reads with, on a busy machine


@dataclass(frozen=True)
class Reading:
    """The message as read, and the change typed in it (when one was asked for)."""

    read: ReadMessage
    parsed: ParsedChange | None = None


class ReadFailed(Exception):
    """The message could not be read: over the time budget, the reader stopped, or the reading raised."""


def read_and_parse(raw: bytes, *, departments: Mapping[str, Sequence[str]], today: date, parse: bool) -> Reading:
    """What the child does with one message (and what runs in-process where there is no child)."""
    read = read_message(raw)
    if not parse:
        return Reading(read)
    return Reading(read, parse_change(read.text, read.subject, departments=departments, today=today))


class MessageReader:
    """Reads messages in a child process, killed and replaced when one takes longer than ``seconds``."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._mp = multiprocessing.get_context("spawn")  # no inherited threads, locks or connections
        self._lock = threading.Lock()
        self._process: BaseProcess | None = None
        self._conn: Connection | None = None
        self._closes_at_exit = False
        self._reading = threading.Event()

    @property
    def reading(self) -> bool:
        """Whether a message is being read in the child now."""
        return self._reading.is_set()

    def read(self, raw: bytes, *, departments: Mapping[str, Sequence[str]], today: date, parse: bool) -> Reading:
        job = {"raw": raw, "departments": {k: tuple(v) for k, v in departments.items()}, "today": today,
               "parse": parse}
        with self._lock:
            conn = self._started()
            try:
                conn.send(job)
            except OSError:  # it had died since the last message (killed, out of memory): once more
                self._stop()
                conn = self._started()
                conn.send(job)
            self._reading.set()
            try:
                answered = conn.poll(self.seconds)
            finally:
                self._reading.clear()
            if not answered:
                self._stop()
                raise ReadFailed(f"not read within the time budget of {self.seconds:g} s")
            try:
                kind, value = conn.recv()
            except (EOFError, OSError):
                code = self._stop()
                raise ReadFailed(f"the reader stopped while reading (exit code {code})") from None
        if kind == "error":
            raise ReadFailed(value)
        assert isinstance(value, Reading)
        return value

    def close(self) -> None:
        with self._lock:
            self._stop()

    def _started(self) -> Connection:
        if self._process is not None and self._process.is_alive() and self._conn is not None:
            return self._conn
        self._stop()
        ours, theirs = self._mp.Pipe(duplex=True)
        process = self._mp.Process(target=_serve, args=(theirs, os.getpid()), name="tellusonce-mail-reader",
                                   daemon=True)
        process.start()
        theirs.close()
        if not self._closes_at_exit:  # before multiprocessing's exit handler, which would wait for it
            atexit.register(self.close)
            self._closes_at_exit = True
        self._process, self._conn = process, ours
        try:
            ready = ours.poll(START_SECONDS) and ours.recv() == "ready"
        except (EOFError, OSError):
            ready = False
        if not ready:
            code = self._stop()
            raise ReadFailed(f"the reader did not start (exit code {code})")
        return ours

    def _stop(self) -> int | None:
        """End the child (it may be busy: killed, not asked); its exit code."""
        process, conn = self._process, self._conn
        self._process = self._conn = None
        if conn is not None:
            conn.close()
        if process is None:
            return None
        if process.is_alive():
            process.kill()
        process.join(timeout=10)
        code = process.exitcode
        process.close()
        return code


# -- in the child ------------------------------------------------------------------------------


def _serve(conn: Connection, parent: int) -> None:
    # Stopping is the parent's decision (it kills this process over budget, and at exit).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    threading.Thread(target=_end_with, args=(parent,), name="tellusonce-reader-watch", daemon=True).start()
    conn.send("ready")
    while True:
        try:
            job: dict[str, Any] = conn.recv()
        except (EOFError, OSError):
            return
        try:
            answer: tuple[str, object] = ("ok", read_and_parse(**job))
        except Exception as e:  # a parser bug on this message: the parent quarantines it with the reason
            detail = " ".join(str(e).split())[:300]
            answer = ("error", f"{type(e).__name__}: {detail}" if detail else type(e).__name__)
        try:
            conn.send(answer)
        except (EOFError, OSError):
            return


def _end_with(parent: int) -> None:
    """End this process once the one that started it is gone (even after kill -9)."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)
