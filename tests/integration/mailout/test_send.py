"""The outbound sender: renders each email when it sends it, captured in demo and test mode, sent through a
real SMTP relay otherwise."""

from __future__ import annotations

import dataclasses
import socket
from datetime import timedelta
from email.message import EmailMessage

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from sqlalchemy import Engine, select

from tellusonce import i18n
from tellusonce.clock import utcnow
from tellusonce.db import transaction
from tellusonce.i18n import N_
from tellusonce.mailout import render
from tellusonce.mailout.queue import queue_email
from tellusonce.mailout.render import render_email
from tellusonce.mailout.send import (
    LEASE,
    MAX_ATTEMPTS,
    OutboundMailer,
    retry_delay,
)
from tellusonce.models import OutgoingEmail, OutgoingState
from tellusonce.settings import Settings
from tests.integration.mail.relay import Relay


@pytest.fixture
def outbox(committed: Engine) -> Engine:
    """The database the sender commits to (``committed``: emptied before and after)."""
    return committed


def queue(engine: Engine, *, to: str = "ada@example.org", html: bool = False, language: str = "en") -> OutgoingEmail:
    with transaction(engine) as session:
        return queue_email(
            session, to=to, subject=N_("Confirm your email address"),
            template="verify_email" if html else "mail_unknown_sender",
            context={"link": "https://tellusonce.test/x", "hours": 24, "register_link": "https://tellusonce.test/r",
                     "service_address": "changes@tellusonce.test"},
            purpose="test", language=language,
            headers={"In-Reply-To": "<m1@example.org>", "Auto-Submitted": "auto-replied"},
            attachments=[{"filename": "event.json", "content_type": "application/json", "content": '{"a": 1}'}],
        )


def row(engine: Engine, email_id) -> OutgoingEmail:
    with transaction(engine, writer=False) as session:
        return session.get(OutgoingEmail, email_id)


def part(message: EmailMessage, subtype: str) -> str:
    """The text of a received message's plain or HTML part, with the wire's CRLF line ends as stored (LF)."""
    return message.get_body((subtype,)).get_content().replace("\r\n", "\n")


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


def test_a_queued_email_has_no_body_until_captured_and_then_keeps_exactly_what_was_rendered(outbox, settings):
    email = queue(outbox, html=True)
    queued = row(outbox, email.id)
    assert (queued.body_text, queued.body_html) == (None, None)
    assert (queued.template, queued.language) == ("verify_email", "en")
    rendered = render_email("verify_email", queued.context, language="en")
    assert OutboundMailer(outbox, settings).send_due().captured == 1
    captured = row(outbox, email.id)
    assert (captured.body_text, captured.body_html) == rendered
    assert "https://tellusonce.test/x" in captured.body_text and captured.body_html is not None


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
    assert "https://tellusonce.test/x" in part(message, "plain")
    assert message.get_body(("html",)) is not None
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == "event.json" and attachment.get_content() == b'{"a": 1}'
    sent = row(outbox, email.id)
    assert sent.body_text is not None and sent.body_html is not None
    assert part(message, "plain") == sent.body_text
    assert part(message, "html") == sent.body_html


def test_an_email_rendered_when_it_was_queued_is_sent_with_its_stored_bodies(outbox, settings):
    now = utcnow()
    with transaction(outbox) as session:  # a row written before migration 0003: bodies, no template
        old = OutgoingEmail(created_at=now, purpose="verify_email", to_address="ada@example.org",
                            subject="Confirm your email address", body_text="Rendered when queued: http://old.test/v\n",
                            body_html="<p>Rendered when queued</p>\n", state=OutgoingState.QUEUED, attempts=0,
                            next_attempt_at=now)
        session.add(old)
    with Relay() as relay:
        assert OutboundMailer(outbox, smtp_settings(settings, relay.port)).send_due().sent == 1
    [(_, _, message)] = relay.received
    assert part(message, "plain") == "Rendered when queued: http://old.test/v\n"
    assert part(message, "html") == "<p>Rendered when queued</p>\n"
    sent = row(outbox, old.id)
    assert sent.state == OutgoingState.SENT and sent.template is None
    assert sent.body_text == "Rendered when queued: http://old.test/v\n"


@pytest.fixture
def welsh_catalogue(tmp_path, monkeypatch):
    """A small Welsh catalogue in place of the project's (which has none yet), for as long as the test runs."""
    catalogue = Catalog(locale="cy", domain="messages")
    catalogue.add("Confirm your email address", "Cadarnhewch eich cyfeiriad e-bost")
    catalogue.add("The link works once and stops working after %(hours)s hours.",
                  "Mae\u2019r ddolen yn gweithio unwaith ac yn dod i ben ar \u00f4l %(hours)s awr.")
    folder = tmp_path / "translations" / "cy" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    with open(folder / "messages.mo", "wb") as mo:
        write_mo(mo, catalogue)
    monkeypatch.setattr(i18n, "TRANSLATIONS", tmp_path / "translations")
    i18n._translations.cache_clear()
    render.email_environment.cache_clear()
    yield
    i18n._translations.cache_clear()
    render.email_environment.cache_clear()


def test_an_email_is_rendered_when_sent_in_the_language_its_row_records(outbox, settings, welsh_catalogue):
    welsh = queue(outbox, to="cy@example.org", html=True, language="cy")
    switched = queue(outbox, to="switched@example.org", html=True)
    english = queue(outbox, to="en@example.org", html=True)
    with transaction(outbox) as session:  # the sender reads the row's language, not the queueing code's
        session.get(OutgoingEmail, switched.id).language = "cy"
    with Relay() as relay:
        assert OutboundMailer(outbox, smtp_settings(settings, relay.port)).send_due().sent == 3
    received = {rcpt_tos[0]: message for _, rcpt_tos, message in relay.received}
    for address in ("cy@example.org", "switched@example.org"):
        text = part(received[address], "plain")
        assert text.startswith("Cadarnhewch eich cyfeiriad e-bost")
        assert "ar \u00f4l 24 awr" in text and "stops working" not in text
        assert "Cadarnhewch eich cyfeiriad e-bost" in part(received[address], "html")
    assert received["cy@example.org"]["Subject"] == "Cadarnhewch eich cyfeiriad e-bost"
    assert received["switched@example.org"]["Subject"] == "Confirm your email address"  # fixed when queued
    assert part(received["en@example.org"], "plain").startswith("Confirm your email address")
    assert row(outbox, welsh.id).body_text.startswith("Cadarnhewch")
    assert row(outbox, english.id).body_text.startswith("Confirm your email address")


def test_an_email_that_cannot_be_rendered_is_retried_without_holding_up_the_rest_of_its_batch(outbox, settings):
    broken, fine = queue(outbox), queue(outbox, to="grace@example.org")
    with transaction(outbox) as session:  # its template removed since it was queued
        session.get(OutgoingEmail, broken.id).template = "since_removed"
    summary = OutboundMailer(outbox, settings).send_due()
    assert (summary.captured, summary.retrying) == (1, 1)
    assert row(outbox, fine.id).state == OutgoingState.CAPTURED
    waiting = row(outbox, broken.id)
    assert waiting.state == OutgoingState.QUEUED and waiting.body_text is None
    assert "since_removed" in waiting.last_error and waiting.next_attempt_at > utcnow()


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


def test_queued_rows_are_found_in_due_order(outbox, settings):
    first, second = queue(outbox), queue(outbox, to="grace@example.org")
    OutboundMailer(outbox, settings).send_due()
    with transaction(outbox, writer=False) as session:
        states = {r.id: r.state for r in session.scalars(select(OutgoingEmail))}
    assert states == {first.id: OutgoingState.CAPTURED, second.id: OutgoingState.CAPTURED}
