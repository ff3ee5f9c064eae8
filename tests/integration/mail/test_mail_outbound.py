"""The outbound sender: captured in demo and test mode, sent through a real SMTP relay otherwise."""

from __future__ import annotations

import dataclasses
import socket
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select

from mail.outbound import LEASE, MAX_ATTEMPTS, OutboundConfigError, OutboundMailer, parse_outbound, retry_delay
from tellusonce.clock import utcnow
from tellusonce.db import transaction
from tellusonce.i18n import N_
from tellusonce.mailout import queue_email
from tellusonce.models import OutgoingEmail, OutgoingState
from tellusonce.settings import Settings
from tests.integration.mail.relay import Relay


@pytest.fixture
def outbox(engine: Engine, database_cleaner):
    yield engine
    database_cleaner(engine)


def queue(engine: Engine, *, to: str = "ada@example.org", html: bool = False) -> OutgoingEmail:
    with transaction(engine) as session:
        return queue_email(
            session, to=to, subject=N_("Confirm your email address"),
            template="verify_email" if html else "mail_unknown_sender",
            context={"link": "https://tellusonce.test/x", "hours": 24, "register_link": "https://tellusonce.test/r",
                     "service_address": "changes@tellusonce.test"},
            purpose="test", headers={"In-Reply-To": "<m1@example.org>", "Auto-Submitted": "auto-replied"},
            attachments=[{"filename": "event.json", "content_type": "application/json", "content": '{"a": 1}'}],
        )


def row(engine: Engine, email_id) -> OutgoingEmail:
    with transaction(engine, writer=False) as session:
        return session.get(OutgoingEmail, email_id)


def smtp_settings(settings: Settings, port: int) -> Settings:
    return dataclasses.replace(settings, outbound_mail=f"smtp://127.0.0.1:{port}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_in_capture_mode_email_is_kept_for_dev_mail_and_never_sent(outbox, settings):
    email = queue(outbox)
    summary = OutboundMailer(outbox, settings).send_due()
    assert summary.captured == 1
    stored = row(outbox, email.id)
    assert stored.state == OutgoingState.CAPTURED and stored.sent_at is not None and stored.attempts == 1
    assert OutboundMailer(outbox, settings).send_due().total == 0


def test_a_relay_receives_the_email_with_its_threading_headers_html_and_attachment(outbox, settings):
    email = queue(outbox, html=True)
    with Relay() as relay:
        summary = OutboundMailer(outbox, smtp_settings(settings, relay.port)).send_due()
    assert summary.sent == 1
    assert row(outbox, email.id).state == OutgoingState.SENT
    [(mail_from, rcpt_tos, message)] = relay.received
    assert mail_from == "no-reply@tellusonce.test" and rcpt_tos == ["ada@example.org"]
    assert message["Message-ID"] == f"<{email.id}@tellusonce.test>"
    assert message["In-Reply-To"] == "<m1@example.org>"
    assert message["Auto-Submitted"] == "auto-replied"
    assert message["Subject"] == "Confirm your email address"
    assert "https://tellusonce.test/x" in message.get_body(("plain",)).get_content()
    assert message.get_body(("html",)) is not None
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == "event.json" and attachment.get_content() == b'{"a": 1}'


def test_a_temporary_refusal_is_retried_later_with_backoff(outbox, settings):
    email = queue(outbox)
    with Relay(answer="451 4.3.0 Try again later") as relay:
        before = utcnow()
        summary = OutboundMailer(outbox, smtp_settings(settings, relay.port)).send_due()
        assert summary.retrying == 1
        waiting = row(outbox, email.id)
        assert waiting.state == OutgoingState.QUEUED and waiting.attempts == 1
        assert "451" in waiting.last_error
        assert before + timedelta(seconds=23) < waiting.next_attempt_at < utcnow() + timedelta(seconds=37)
        mailer = OutboundMailer(outbox, smtp_settings(settings, relay.port))
        assert mailer.send_due().total == 0  # not due yet
        relay.answer = "250 OK"
        assert mailer.send_due(now=utcnow() + timedelta(minutes=1)).sent == 1
    assert row(outbox, email.id).state == OutgoingState.SENT
    assert len(relay.received) == 1


def test_a_permanent_refusal_marks_the_email_failed_and_keeps_it(outbox, settings):
    email = queue(outbox)
    with Relay(answer="550 5.1.1 No such user") as relay:
        assert OutboundMailer(outbox, smtp_settings(settings, relay.port)).send_due().failed == 1
    failed = row(outbox, email.id)
    assert failed.state == OutgoingState.FAILED and failed.last_error.startswith("550")


def test_an_unreachable_relay_is_retried(outbox, settings):
    email = queue(outbox)
    summary = OutboundMailer(outbox, smtp_settings(settings, free_port())).send_due()
    assert summary.retrying == 1
    assert "cannot reach" in row(outbox, email.id).last_error


def test_after_too_many_attempts_an_email_fails(outbox, settings):
    email = queue(outbox)
    with transaction(outbox) as session:
        session.get(OutgoingEmail, email.id).attempts = MAX_ATTEMPTS - 1
    assert OutboundMailer(outbox, smtp_settings(settings, free_port())).send_due().failed == 1
    assert row(outbox, email.id).state == OutgoingState.FAILED


def test_an_email_claimed_by_a_sender_that_died_is_sent_once_its_lease_ends(outbox, settings):
    email = queue(outbox)
    with transaction(outbox) as session:  # what a claim leaves behind when the sender is killed mid-send
        claimed = session.get(OutgoingEmail, email.id)
        claimed.attempts, claimed.next_attempt_at = 1, utcnow() + LEASE
    mailer = OutboundMailer(outbox, settings)
    assert mailer.send_due().total == 0
    assert mailer.send_due(now=utcnow() + LEASE + timedelta(seconds=1)).captured == 1
    assert row(outbox, email.id).attempts == 2


def test_backoff_doubles_up_to_an_hour():
    assert retry_delay(1).total_seconds() == pytest.approx(30, rel=0.21)
    assert retry_delay(3).total_seconds() == pytest.approx(120, rel=0.21)
    assert retry_delay(30).total_seconds() == pytest.approx(3600, rel=0.21)


def test_the_outbound_setting_is_capture_or_an_smtp_address():
    assert parse_outbound("capture") is None
    assert parse_outbound("smtp://mail.example.org:2525").port == 2525
    assert parse_outbound("smtp://mail.example.org").port == 25
    for wrong in ("https://mail.example.org", "smtp://", "mail.example.org:25"):
        with pytest.raises(OutboundConfigError):
            parse_outbound(wrong)


def test_queued_rows_are_found_in_due_order(outbox, settings):
    first, second = queue(outbox), queue(outbox, to="grace@example.org")
    OutboundMailer(outbox, settings).send_due()
    with transaction(outbox, writer=False) as session:
        states = {r.id: r.state for r in session.scalars(select(OutgoingEmail))}
    assert states == {first.id: OutgoingState.CAPTURED, second.id: OutgoingState.CAPTURED}
