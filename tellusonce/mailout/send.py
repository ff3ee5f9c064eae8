"""Sending queued email: the sender renders and delivers ``OutgoingEmail`` rows (``tellusonce mail send``).

``TELLUSONCE_OUTBOUND_MAIL`` names the relay (``smtps://``, ``smtp://…?starttls=required``, or
plain ``smtp://`` outside production; ``tellusonce/outbound_relay.py``), and every email goes
through it over TLS, logged in as it asks (``relay.connect``), the email channel's to departments
included; in ``capture`` mode (demo and test) a row is marked ``captured`` and read at
``/dev/mail``. A row is claimed with a lease in a short transaction (so no
database lock is held while talking to the relay), rendered from its template,
context and language (``render.rendered_bodies``), sent, and its
outcome recorded in another: a sent or captured row keeps the bodies that went
out. A temporary failure (a 4xx, a refused connection, a timeout) is retried
with exponential backoff and jitter; a permanent one (5xx) or too many attempts
marks it ``failed`` with the error. A relay that cannot be used as configured
(its certificate not trusted, a failed TLS handshake, no STARTTLS when it is required, a login
refused) fails every email alike and only an operator can mend it: neither failed nor retried
in a minute, the batch goes back to the queue with that error on each row, not counted as an
attempt, and this sender leaves the relay alone for ``RELAY_HOLD`` (one login tried per
sender per quarter of an hour, not one per batch, which could lock the account). A row that cannot be rendered (its template
gone or changed since it was queued) is retried the same way, so a sender
deployed behind the web app catches up, and it never holds up the rest of its
batch. A row is never deleted, and a sender killed mid-send leaves the row to
be sent again once its lease ends (at least once, with the same Message-ID).

``TELLUSONCE_OUTBOUND_MAIL=notify`` sends through GOV.UK Notify instead (``notify.py``), with the
same claims, retries and records, and Notify's id for each email kept on its row.
"""

from __future__ import annotations

import logging
import random
import smtplib
import socket
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine

from tellusonce.clock import utcnow
from tellusonce.data.mailout import claim_due_emails, record_email_outcome, record_provider_id
from tellusonce.db import transaction
from tellusonce.mailout.notify import NOTIFY, NotifyDelivery, NotifyProvider
from tellusonce.mailout.relay import RelayRefused, connect
from tellusonce.mailout.render import Bodies, build_message, rendered_bodies
from tellusonce.models import OutgoingEmail, OutgoingState
from tellusonce.settings import Settings

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(hours=1)
MAX_ATTEMPTS = 12  # about a day of trying
SMTP_TIMEOUT = 30
RELAY_HOLD = timedelta(minutes=15)  # how long a sender leaves alone a relay that refused it (RelayRefused)


@dataclass(frozen=True)
class SendSummary:
    sent: int = 0
    captured: int = 0
    retrying: int = 0
    failed: int = 0

    @property
    def total(self) -> int:
        return self.sent + self.captured + self.retrying + self.failed


def retry_delay(attempts: int, *, rng: random.Random | None = None) -> timedelta:
    """30 s, 1 min, 2 min … up to an hour, each with up to a fifth of jitter either way."""
    base = min(FIRST_RETRY * (2 ** max(attempts - 1, 0)), LONGEST_RETRY)
    jitter = (rng or random).uniform(-0.2, 0.2)
    return base * (1 + jitter)


class OutboundMailer:
    """Sends what is due, in batches; one instance per process."""

    def __init__(self, engine: Engine, settings: Settings, *, batch: int = 50) -> None:
        self.engine = engine
        self.settings = settings
        self.notify = NotifyProvider.from_settings(settings) if settings.outbound_mail == NOTIFY else None
        self.relay = None if self.notify else settings.outbound_relay
        self.batch = batch
        self.worker = f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"
        self.relay_held_until: datetime | None = None  # set when the relay refused this sender (RELAY_HOLD)

    def send_due(self, *, now: datetime | None = None) -> SendSummary:
        """Send (or capture) every row due now; how each went."""
        now = now or utcnow()
        if self.relay_held_until is not None and now < self.relay_held_until:
            return SendSummary()
        claimed = self._claim(now)
        if not claimed:
            return SendSummary()
        ready: list[tuple[OutgoingEmail, Bodies]] = []
        retrying = failed = 0
        for row in claimed:
            try:
                ready.append((row, rendered_bodies(row)))
            except Exception as e:  # noqa: BLE001 - whatever is wrong is this row's: the batch goes on without it
                log.exception("outgoing email cannot be rendered", extra={"outgoing_id": str(row.id)})
                if self._failed(row, f"cannot render template {row.template!r}: {type(e).__name__}: {e}",
                                permanent=False):
                    retrying += 1
                else:
                    failed += 1
        if not ready:
            return SendSummary(retrying=retrying, failed=failed)
        if self.notify is not None:
            done = self._send_through_notify(ready)
        else:
            done = self._capture(ready, now) if self.relay is None else self._send(ready, now)
        return SendSummary(sent=done.sent, captured=done.captured, retrying=done.retrying + retrying,
                           failed=done.failed + failed)

    def _claim(self, now: datetime) -> list[OutgoingEmail]:
        with transaction(self.engine) as session:
            rows = claim_due_emails(session, now=now, limit=self.batch, lease=LEASE)
            session.expunge_all()
            return rows

    def _capture(self, rows: Sequence[tuple[OutgoingEmail, Bodies]], now: datetime) -> SendSummary:
        for row, bodies in rows:
            self._record(row.id, state=OutgoingState.CAPTURED, sent_at=now, bodies=bodies)
        return SendSummary(captured=len(rows))

    def _send(self, rows: Sequence[tuple[OutgoingEmail, Bodies]], now: datetime) -> SendSummary:
        assert self.relay is not None
        sent = retrying = failed = 0
        try:
            smtp = connect(self.relay, timeout=SMTP_TIMEOUT)
        except RelayRefused as e:
            self._hold(rows, str(e), now)
            return SendSummary(retrying=len(rows))
        except (OSError, smtplib.SMTPException) as e:  # unreachable, or a 4xx to EHLO, STARTTLS or AUTH
            why = f"{self.relay.url} answered {e.smtp_code} {_text(e.smtp_error)}" \
                if isinstance(e, smtplib.SMTPResponseException) else f"cannot reach {self.relay.url}: {e}"
            for row, _ in rows:
                retrying += self._failed(row, why, permanent=False)
            return SendSummary(retrying=retrying, failed=len(rows) - retrying)
        try:
            for row, bodies in rows:
                error, permanent = self._deliver(smtp, row, bodies)
                if error is None:
                    self._record(row.id, state=OutgoingState.SENT, sent_at=utcnow(), bodies=bodies)
                    sent += 1
                elif self._failed(row, error, permanent=permanent):
                    retrying += 1
                else:
                    failed += 1
        finally:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()
        return SendSummary(sent=sent, retrying=retrying, failed=failed)

    def _deliver(self, smtp: smtplib.SMTP, row: OutgoingEmail, bodies: Bodies) -> tuple[str | None, bool]:
        """None when the relay took it; else the error and whether it is permanent."""
        try:
            message = build_message(row, bodies, sender_address=self.settings.sender_address,
                                    mail_domain=self.settings.mail_domain)
            refused = smtp.send_message(message,
                                        from_addr=self.settings.sender_address, to_addrs=[row.to_address])
        except smtplib.SMTPRecipientsRefused as e:
            code, reply = next(iter(e.recipients.values()))
            text = reply.decode(errors="replace") if isinstance(reply, bytes) else reply
            return f"{code} {text}", code >= 500
        except smtplib.SMTPResponseException as e:
            error = e.smtp_error.decode(errors="replace") if isinstance(e.smtp_error, bytes) else e.smtp_error
            return f"{e.smtp_code} {error}", e.smtp_code >= 500
        except (OSError, smtplib.SMTPException) as e:
            return f"{type(e).__name__}: {e}", False
        if refused:
            code, reply = next(iter(refused.values()))
            return f"{code} {reply.decode(errors='replace')}", code >= 500
        return None, False

    def _hold(self, rows: Sequence[tuple[OutgoingEmail, Bodies]], error: str, now: datetime) -> None:
        """The relay refused this sender: every row back to the queue, due when the hold ends, with the reason
        and its attempt not counted (the relay was never asked to take it)."""
        self.relay_held_until = now + RELAY_HOLD
        log.error("the outbound relay refused this sender; %s emails wait %s minutes: %s", len(rows),
                  int(RELAY_HOLD.total_seconds() // 60), error)
        for row, _ in rows:
            self._record(row.id, state=OutgoingState.QUEUED, next_attempt_at=self.relay_held_until,
                         attempts=row.attempts - 1,
                         error=f"not sent: {error}; tried again after {self.relay_held_until:%H:%M} UTC, once "
                               f"the relay's settings are mended")

    def _send_through_notify(self, rows: Sequence[tuple[OutgoingEmail, Bodies]]) -> SendSummary:
        """Each row to GOV.UK Notify, recording its notification id; once Notify does not answer at
        all, the rest of the batch waits for the next try too."""
        assert self.notify is not None
        sent = retrying = failed = 0
        unreachable: NotifyDelivery | None = None
        for row, bodies in rows:
            outcome = unreachable or self.notify.deliver(row, bodies)
            if outcome.error is None:
                with transaction(self.engine) as session:
                    # What went out is the plain text: Notify makes the HTML from it.
                    record_email_outcome(session, row.id, state=OutgoingState.SENT, sent_at=utcnow(),
                                         bodies=(bodies[0], None))
                    record_provider_id(session, row.id, outcome.notification_id)
                sent += 1
                continue
            if outcome.unreachable:
                unreachable = outcome
            if self._failed(row, outcome.error, permanent=outcome.permanent):
                retrying += 1
            else:
                failed += 1
        return SendSummary(sent=sent, retrying=retrying, failed=failed)

    def _failed(self, row: OutgoingEmail, error: str, *, permanent: bool) -> bool:
        """Record a failure; True if it will be retried."""
        retry = not permanent and row.attempts < MAX_ATTEMPTS
        log.warning("outgoing email not sent: %s", "will retry" if retry else "failed",
                    extra={"outgoing_id": str(row.id), "attempts": row.attempts})
        if retry:
            self._record(row.id, state=OutgoingState.QUEUED, error=error,
                         next_attempt_at=utcnow() + retry_delay(row.attempts))
        else:
            self._record(row.id, state=OutgoingState.FAILED, error=error)
        return retry

    def _record(self, row_id: uuid.UUID, *, state: str, sent_at: datetime | None = None, error: str | None = None,
                next_attempt_at: datetime | None = None, bodies: Bodies | None = None,
                attempts: int | None = None) -> None:
        """The outcome of an attempt, in a transaction of its own; ``bodies``, what went out, for a row
        sent or captured; ``attempts``, the attempts counted, when this one is not."""
        with transaction(self.engine) as session:
            record_email_outcome(session, row_id, state=state, sent_at=sent_at, error=error,
                                 next_attempt_at=next_attempt_at, bodies=bodies, attempts=attempts)


def _text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else reply


class SenderLoop:
    """``tellusonce mail send``: send what is due, then wait a little, until stopped."""

    def __init__(self, mailer: OutboundMailer, *, poll: float = 2.0) -> None:
        self.mailer = mailer
        self.poll = poll
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                while not self.stopping.is_set() and self.mailer.send_due().total:
                    pass
            except Exception:  # the database is away: the rows wait; try again soon
                log.exception("outbound sending failed; will try again")
            self.stopping.wait(self.poll)
