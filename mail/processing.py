"""From a stored message to a held report, a reply, or quarantine.

Processing starts from the committed raw bytes, after the sender has had its
250, in three steps, so that no message a stranger wrote can hold the
database for others:

1. a short read-only transaction loads the message (and the organisations'
   names, which the parser matches against);
2. outside any transaction, the message is read and its change parsed in a
   child process within ``settings.mail_parse_seconds`` (``tellusonce_mail.reading``),
   and its DKIM signature checked;
3. one write transaction records the result: the report, the reply, the
   message's new state. If another worker recorded this message meanwhile,
   nothing is written and the next message is taken.

Whatever goes wrong (the budget is spent, the reader dies, the domain raises)
is rolled back to a savepoint and the message is quarantined with the reason,
for an operator to read and reprocess (``tellusonce mail list --status
quarantined``, ``tellusonce mail reprocess ID``): a parser bug never costs a
message.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from tellusonce.clock import uk_date, utcnow
from tellusonce.data.departments import list_departments
from tellusonce.data.inbound import get_inbound, next_received
from tellusonce.db import transaction
from tellusonce.models import InboundMessage, InboundStatus
from tellusonce.settings import Settings
from tellusonce_mail.authentication import DNSFunc, check_authentication
from tellusonce_mail.changes import handle_change
from tellusonce_mail.confirmation import handle_confirmation_reply
from tellusonce_mail.data_rights import handle_data_rights, rights_in
from tellusonce_mail.handler import recipient_for
from tellusonce_mail.mime import ReadMessage
from tellusonce_mail.reading import MessageReader, ReadFailed, Reading
from tellusonce_mail.rules import never_answer

log = logging.getLogger(__name__)
POLL_SECONDS = 2.0


@dataclass(frozen=True)
class Outcome:
    status: str  # InboundStatus
    reason: str  # for operators; never personal data
    report_id: uuid.UUID | None = None


@dataclass(frozen=True)
class _Stored:
    """What processing needs of one stored message, loaded before it is read."""

    id: uuid.UUID
    raw: bytes
    mail_from: str
    rcpt_tos: tuple[str, ...]
    departments: dict[str, tuple[str, ...]]  # registry id -> the names the parser knows it by


def process_next(engine: Engine, settings: Settings, *, now: datetime | None = None,
                 dnsfunc: DNSFunc | None = None, reader: MessageReader | None = None) -> Outcome | None:
    """Process the oldest received message, if there is one."""
    while (stored := _load(engine, None)) is not None:
        outcome = _process(engine, stored, settings=settings, now=now or utcnow(), dnsfunc=dnsfunc,
                           reader=reader or reader_for(settings), only_if=InboundStatus.RECEIVED)
        if outcome is not None:
            return outcome
    return None  # (a message another worker recorded first is left to it, and the next one taken)


def reprocess(engine: Engine, settings: Settings, message_id: uuid.UUID | str, *, now: datetime | None = None,
              dnsfunc: DNSFunc | None = None, reader: MessageReader | None = None) -> Outcome | None:
    """Process one message again, whatever its state (an operator's decision); None if there is no such message."""
    stored = _load(engine, message_id)
    if stored is None:
        return None
    return _process(engine, stored, settings=settings, now=now or utcnow(), dnsfunc=dnsfunc,
                    reader=reader or reader_for(settings), only_if=None)


def _load(engine: Engine, message_id: uuid.UUID | str | None) -> _Stored | None:
    with transaction(engine, writer=False) as session:
        message = next_received(session) if message_id is None else get_inbound(session, message_id)
        if message is None:
            return None
        departments: dict[str, tuple[str, ...]] = {
            d.id: (d.name, d.controller, *((d.name_cy,) if d.name_cy else ())) for d in list_departments(session)}
        return _Stored(message.id, message.raw, message.mail_from, tuple(message.rcpt_tos), departments)


def _process(engine: Engine, stored: _Stored, *, settings: Settings, now: datetime, dnsfunc: DNSFunc | None,
             reader: MessageReader, only_if: str | None) -> Outcome | None:
    token = _confirmation_token(stored.rcpt_tos, settings)
    try:
        reading = reader.read(stored.raw, departments=stored.departments, today=uk_date(now),
                              parse=token is None)
    except ReadFailed as e:
        log.warning("could not read an inbound message: %s", e, extra={"inbound_id": str(stored.id)})
        failed = Outcome(InboundStatus.QUARANTINED, str(e)[:2000])
        return _record(engine, stored.id, now=now, only_if=only_if, act=lambda session, message: failed)
    authentication = check_authentication(stored.raw, reading.read, dnsfunc=dnsfunc)

    def act(session: Session, message: InboundMessage) -> Outcome:
        _describe(message, reading.read, authentication)
        return _act(session, message, reading, token, settings=settings, now=now)

    return _record(engine, stored.id, now=now, only_if=only_if, act=act)


def _confirmation_token(rcpt_tos: tuple[str, ...], settings: Settings) -> str | None:
    """The token of the confirmation this message replies to (``confirm+<token>@``), if it is one."""
    for address in rcpt_tos:
        recipient = recipient_for(address, settings.mail_domain)
        if recipient is not None and recipient.kind == "confirm" and recipient.token:
            return recipient.token
    return None


def _act(session: Session, message: InboundMessage, reading: Reading, token: str | None, *, settings: Settings,
         now: datetime) -> Outcome:
    """Act on one read message (in the caller's transaction) and say what was done."""
    read = reading.read
    why_not = never_answer(read, mail_from=message.mail_from, mail_domain=settings.mail_domain)
    if why_not:
        return Outcome(InboundStatus.PROCESSED, f"not answered: {why_not}")
    if token is not None:
        status, reason, report_id = handle_confirmation_reply(session, read, token, settings=settings, now=now)
        return Outcome(status, reason, report_id)
    assert reading.parsed is not None
    rights = rights_in(reading)
    if rights:
        status, reason, report_id = handle_data_rights(session, message, read, rights, settings=settings, now=now)
        return Outcome(status, reason, report_id)
    status, reason, report_id = handle_change(session, message, read, reading.parsed, settings=settings, now=now)
    return Outcome(status, reason, report_id)


def _describe(message: InboundMessage, read: ReadMessage, authentication: dict[str, Any]) -> None:
    message.message_id = (read.message_id or "")[:998] or None
    message.from_address = (read.from_address or "")[:320] or None
    message.subject = read.subject[:2000] or None
    message.authentication = authentication


def _record(engine: Engine, message_id: uuid.UUID, *, now: datetime, only_if: str | None,
            act: Callable[[Session, InboundMessage], Outcome]) -> Outcome | None:
    """In one write transaction: act, and record the outcome on the message; None if it is no longer
    in the state ``only_if`` (another worker recorded it first)."""
    message_key = str(message_id)
    with transaction(engine) as session:
        message = session.get(InboundMessage, message_id, with_for_update=True)
        if message is None or (only_if is not None and message.status != only_if):
            return None
        try:
            with session.begin_nested():
                outcome = act(session, message)
        except Exception as e:  # anything at all: keep the message, say why, let an operator look
            log.exception("quarantined an inbound message", extra={"inbound_id": message_key})
            detail = " ".join(str(e).split())[:300]
            outcome = Outcome(InboundStatus.QUARANTINED, f"{type(e).__name__}: {detail}" if detail else type(e).__name__)
        message.status = outcome.status
        message.status_reason = outcome.reason[:2000]
        message.report_id = outcome.report_id
        message.processed_at = now
        message.attempts = (message.attempts or 0) + 1
        session.flush()
    log.info("processed an inbound message", extra={"inbound_id": message_key, "status": outcome.status})
    return outcome


_readers: dict[float, MessageReader] = {}
_readers_lock = threading.Lock()


def reader_for(settings: Settings) -> MessageReader:
    """This process's reader for the settings' time budget (its child is started on first use)."""
    with _readers_lock:
        reader = _readers.get(settings.mail_parse_seconds)
        if reader is None:
            reader = _readers[settings.mail_parse_seconds] = MessageReader(settings.mail_parse_seconds)
        return reader


class MessageWorker:
    """Processes received messages on its own thread; ``wake`` after a commit, or it polls."""

    def __init__(self, engine: Engine, settings: Settings, *, poll: float = POLL_SECONDS,
                 dnsfunc: DNSFunc | None = None) -> None:
        self.engine = engine
        self.settings = settings
        self.poll = poll
        self.dnsfunc = dnsfunc
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def wake(self, *_: Any) -> None:
        self._wake.set()

    def run_once(self) -> int:
        """Process everything received so far; how many messages."""
        done = 0
        while not self._stopping.is_set() and process_next(self.engine, self.settings, dnsfunc=self.dnsfunc):
            done += 1
        return done

    def start(self) -> MessageWorker:
        self._thread = threading.Thread(target=self._run, name="mail-worker", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.run_once()
            except Exception:  # the database is away: wait and try again; messages stay received
                log.exception("mail processing failed; will try again")
            self._wake.wait(self.poll)
            self._wake.clear()
