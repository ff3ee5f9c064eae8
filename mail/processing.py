"""From a stored message to a held report, a reply, or quarantine.

Processing starts from the committed raw bytes, after the sender has had its
250, one message per transaction. Whatever goes wrong while processing one
message is rolled back to a savepoint and the message is quarantined with the
reason, for an operator to read and reprocess (``tellusonce mail list
--status quarantined``, ``tellusonce mail reprocess ID``): a parser bug never
costs a message.
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from mail.authentication import DNSFunc, check_authentication
from mail.changes import handle_change
from mail.confirmation import handle_confirmation_reply
from mail.handler import recipient_for
from mail.mime import ReadMessage, read_message
from mail.rules import never_answer
from tellusonce.clock import utcnow
from tellusonce.data.inbound import get_inbound, next_received
from tellusonce.db import transaction
from tellusonce.models import InboundMessage, InboundStatus
from tellusonce.settings import Settings

log = logging.getLogger(__name__)
POLL_SECONDS = 2.0


@dataclass(frozen=True)
class Outcome:
    status: str  # InboundStatus
    reason: str  # for operators; never personal data
    report_id: uuid.UUID | None = None


def process_message(session: Session, message: InboundMessage, *, settings: Settings, now: datetime,
                    dnsfunc: DNSFunc | None = None) -> Outcome:
    """Act on one stored message (in the caller's transaction) and say what was done."""
    read = read_message(message.raw)
    _describe(message, read, dnsfunc=dnsfunc)
    why_not = never_answer(read, mail_from=message.mail_from, mail_domain=settings.mail_domain)
    if why_not:
        return Outcome(InboundStatus.PROCESSED, f"not answered: {why_not}")
    for address in message.rcpt_tos:
        recipient = recipient_for(address, settings.mail_domain)
        if recipient is not None and recipient.kind == "confirm" and recipient.token:
            status, reason, report_id = handle_confirmation_reply(
                session, read, recipient.token, settings=settings, now=now)
            return Outcome(status, reason, report_id)
    status, reason, report_id = handle_change(session, message, read, settings=settings, now=now)
    return Outcome(status, reason, report_id)


def _describe(message: InboundMessage, read: ReadMessage, *, dnsfunc: DNSFunc | None) -> None:
    message.message_id = (read.message_id or "")[:998] or None
    message.from_address = (read.from_address or "")[:320] or None
    message.subject = read.subject[:2000] or None
    message.authentication = check_authentication(message.raw, read, dnsfunc=dnsfunc)


def process_next(engine: Engine, settings: Settings, *, now: datetime | None = None,
                 dnsfunc: DNSFunc | None = None) -> Outcome | None:
    """Process the oldest received message, if there is one."""
    with transaction(engine) as session:
        message = next_received(session)
        if message is None:
            return None
        return _process(session, message, settings=settings, now=now or utcnow(), dnsfunc=dnsfunc)


def reprocess(engine: Engine, settings: Settings, message_id: uuid.UUID | str, *, now: datetime | None = None,
              dnsfunc: DNSFunc | None = None) -> Outcome | None:
    """Process one message again, whatever its state (an operator's decision); None if there is no such message."""
    with transaction(engine) as session:
        message = get_inbound(session, message_id)
        if message is None:
            return None
        return _process(session, message, settings=settings, now=now or utcnow(), dnsfunc=dnsfunc)


def _process(session: Session, message: InboundMessage, *, settings: Settings, now: datetime,
             dnsfunc: DNSFunc | None) -> Outcome:
    message_key = str(message.id)
    try:
        with session.begin_nested():
            outcome = process_message(session, message, settings=settings, now=now, dnsfunc=dnsfunc)
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
