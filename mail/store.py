"""Keeping a message before it is answered 250: a writer thread with group commit.

The SMTP sessions run on one asyncio loop; a database commit (and copying a
9 MB message into it) must never run on that loop, or every other session
waits (aiosmtpd #293). Each session hands its message to ``MessageStore.save``
and awaits the result. Writer threads each take whatever has arrived (up to a
few megabytes), insert it in one transaction and commit, then answer every
waiting session: under load many messages share one commit, and when idle a
message is committed alone at once. Small and large messages have their own
lanes, so a small message never waits behind every large one queued before it.
On SQLite (one writer at a time) the writers take turns on a lock in this
process instead of sleeping in SQLite's busy handler.
If the commit fails, every session in that batch is told, and answers 451 so
that the sending server tries again later: nothing is ever half-accepted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, insert

from tellusonce.models import InboundMessage, InboundStatus

log = logging.getLogger(__name__)

BATCH_MESSAGES = 64
BATCH_BYTES = 4 * 1024 * 1024
SMALL_BYTES = 256 * 1024


class StoreFailed(RuntimeError):
    """The message could not be committed; the sender should try again later."""


@dataclass(frozen=True)
class Arrival:
    """One message and its envelope, as received."""

    peer: str
    helo: str | None
    mail_from: str  # "" for a bounce (MAIL FROM:<>)
    rcpt_tos: Sequence[str]
    raw: bytes
    received_at: datetime


@dataclass
class _Pending:
    arrival: Arrival
    future: asyncio.Future[uuid.UUID]
    loop: asyncio.AbstractEventLoop


_STOP = object()


class MessageStore:
    """Commits arrivals from writer threads; ``save`` returns once the message is durable."""

    def __init__(self, engine: Engine, *, on_commit: Callable[[int], None] | None = None,
                 writers_per_lane: int | None = None) -> None:
        self._writer = engine.execution_options(writer=True)  # BEGIN IMMEDIATE on SQLite
        self._on_commit = on_commit
        sqlite = engine.dialect.name == "sqlite"
        self._writers_per_lane = writers_per_lane or (1 if sqlite else 2)
        self._turn: contextlib.AbstractContextManager[object] = threading.Lock() if sqlite else contextlib.nullcontext()
        self._small: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._large: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        if not self._threads:
            self._threads = [
                threading.Thread(target=self._run, args=(lane,), name=f"mail-store-{name}-{n}", daemon=True)
                for name, lane in (("small", self._small), ("large", self._large))
                for n in range(self._writers_per_lane)
            ]
            for thread in self._threads:
                thread.start()

    def stop(self) -> None:
        """Commit what is queued, then stop the writer threads."""
        for _ in range(self._writers_per_lane):
            self._small.put(_STOP)
            self._large.put(_STOP)
        for thread in self._threads:
            thread.join()
        self._threads = []

    async def save(self, arrival: Arrival) -> uuid.UUID:
        """Commit ``arrival``; raises ``StoreFailed`` if the database would not take it."""
        if not self._threads:
            raise StoreFailed("the message store is not running")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[uuid.UUID] = loop.create_future()
        lane = self._small if len(arrival.raw) <= SMALL_BYTES else self._large
        lane.put(_Pending(arrival, future, loop))
        return await future

    def _run(self, lane: queue.SimpleQueue[object]) -> None:
        stopping = False
        while not stopping:
            first = lane.get()
            if first is _STOP:
                break
            assert isinstance(first, _Pending)
            batch, size = [first], len(first.arrival.raw)
            while len(batch) < BATCH_MESSAGES and size < BATCH_BYTES:
                try:
                    item = lane.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stopping = True  # this writer ends after this batch; the others take the rest
                    break
                assert isinstance(item, _Pending)
                batch.append(item)
                size += len(item.arrival.raw)
            self._commit(batch)

    def _commit(self, batch: list[_Pending]) -> None:
        ids = [uuid.uuid4() for _ in batch]
        rows = [_row(message_id, item.arrival) for message_id, item in zip(ids, batch, strict=True)]
        try:
            with self._turn, self._writer.begin() as connection:
                connection.execute(insert(InboundMessage.__table__), rows)  # type: ignore[arg-type]  # __table__ is declared a FromClause; it is the Table
        except Exception as e:  # any database failure: the senders retry
            log.exception("could not commit %s inbound messages", len(batch), extra={"messages": len(batch)})
            failure = StoreFailed(type(e).__name__)
            for item in batch:
                _answer(item, _fail, failure)
            return
        for message_id, item in zip(ids, batch, strict=True):
            _answer(item, _succeed, message_id)
        if self._on_commit is not None:
            self._on_commit(len(batch))


def _row(message_id: uuid.UUID, arrival: Arrival) -> dict[str, object]:
    return {
        "id": message_id,
        "received_at": arrival.received_at,
        "peer": arrival.peer[:100],
        "helo": arrival.helo[:255] if arrival.helo else None,
        "mail_from": arrival.mail_from[:320],
        "rcpt_tos": list(arrival.rcpt_tos),
        "raw": arrival.raw,
        "size": len(arrival.raw),
        "status": InboundStatus.RECEIVED,
        "attempts": 0,
    }


def _answer(item: _Pending, callback: Callable[..., None], value: object) -> None:
    try:
        item.loop.call_soon_threadsafe(callback, item.future, value)
    except RuntimeError:  # the loop has closed: the session is gone, the row is kept
        log.info("session ended before its message was committed")


def _succeed(future: asyncio.Future[uuid.UUID], message_id: uuid.UUID) -> None:
    if not future.done():
        future.set_result(message_id)


def _fail(future: asyncio.Future[uuid.UUID], error: Exception) -> None:
    if not future.done():
        future.set_exception(error)
