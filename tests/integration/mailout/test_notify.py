"""Sending through GOV.UK Notify: the sender against a local server that speaks Notify's v2 API and
checks the client's signed token, as Notify does."""

from __future__ import annotations

import base64
import dataclasses
import socket
import uuid

import pytest
from sqlalchemy import Engine

from tellusonce.clock import utcnow
from tellusonce.db import transaction
from tellusonce.i18n import N_
from tellusonce.mailout.notify import NotifyProvider
from tellusonce.mailout.queue import queue_email
from tellusonce.mailout.render import render_email, translate_subject
from tellusonce.mailout.send import MAX_ATTEMPTS, OutboundMailer
from tellusonce.models import OutgoingEmail, OutgoingState
from tellusonce.settings import Settings
from tests.integration.mailout.notify_server import NotifyServer, api_key

TEMPLATE_ID = "f33517ff-2a88-4f6e-b855-c550268ce08a"
FILE_TEMPLATE_ID = "0f6a4a36-2c1f-4d3e-9b1e-7c1a9a2b5d10"
REPLY_TO_ID = "8e222534-7f05-4972-86e3-17c5d9f894e2"
CONTEXT = {"link": "https://tellusonce.test/x", "hours": 24, "register_link": "https://tellusonce.test/r",
           "service_address": "changes@tellusonce.test"}


@pytest.fixture
def outbox(engine: Engine, database_cleaner):
    yield engine
    database_cleaner(engine)


@pytest.fixture
def notify():
    with NotifyServer() as server:
        yield server


def notify_settings(settings: Settings, server: NotifyServer, **changes: str) -> Settings:
    return dataclasses.replace(settings, outbound_mail="notify", notify_api_key=server.api_key,
                               notify_template_id=TEMPLATE_ID, notify_base_url=server.base_url, **changes)


def queue(engine: Engine, *, to: str = "ada@example.org", language: str = "en", template: str = "verify_email",
          attachments: tuple[dict[str, str], ...] = ()) -> OutgoingEmail:
    with transaction(engine) as session:
        return queue_email(session, to=to, subject=N_("Confirm your email address"), template=template,
                           context=CONTEXT, purpose="test", language=language, attachments=attachments)


def row(engine: Engine, email_id) -> OutgoingEmail:
    with transaction(engine, writer=False) as session:
        return session.get(OutgoingEmail, email_id)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_queued_email_goes_to_notify_through_the_template_with_its_subject_body_reference_and_address(
        outbox, settings, notify):
    email = queue(outbox, to="ada@example.org")
    summary = OutboundMailer(outbox, notify_settings(settings, notify, notify_reply_to_id=REPLY_TO_ID)).send_due()
    assert summary.sent == 1
    assert notify.refused == []  # the client's token passed the server's check
    (request,) = notify.received
    text, _html = render_email("verify_email", CONTEXT, language="en")
    assert request["email_address"] == "ada@example.org"
    assert request["template_id"] == TEMPLATE_ID
    assert request["reference"] == str(email.id)
    assert request["email_reply_to_id"] == REPLY_TO_ID
    assert request["personalisation"] == {"subject": "Confirm your email address", "body": text}
    sent = row(outbox, email.id)
    assert sent.state == OutgoingState.SENT and sent.sent_at is not None
    assert sent.provider_id == request["id"]
    assert (sent.body_text, sent.body_html) == (text, None)  # Notify makes the HTML from the text
    assert OutboundMailer(outbox, notify_settings(settings, notify)).send_due().total == 0


def test_a_welsh_email_goes_to_notify_in_welsh(outbox, settings, notify):
    queue(outbox, language="cy")
    assert OutboundMailer(outbox, notify_settings(settings, notify)).send_due().sent == 1
    (request,) = notify.received
    assert request["personalisation"] == {
        "subject": translate_subject(N_("Confirm your email address"), CONTEXT, language="cy"),
        "body": render_email("verify_email", CONTEXT, language="cy")[0],
    }
    assert request["personalisation"]["subject"] != "Confirm your email address"
    assert "reply_to" not in request and "email_reply_to_id" not in request


@pytest.mark.parametrize("status, message", [
    (400, "Can't send to this recipient using a team-only API key"),
    (403, "Error: Your system clock must be accurate to within 30 seconds"),
])
def test_notify_refusing_an_email_fails_it_with_notifys_message(outbox, settings, notify, status, message):
    email = queue(outbox)
    notify.answer_next(status, message)
    summary = OutboundMailer(outbox, notify_settings(settings, notify)).send_due()
    assert summary.failed == 1
    failed = row(outbox, email.id)
    assert failed.state == OutgoingState.FAILED and failed.next_attempt_at is None and failed.provider_id is None
    assert failed.last_error == f"GOV.UK Notify answered {status}: {'BadRequestError' if status == 400 else 'AuthError'}: {message}"


def test_a_wrong_api_key_is_refused_by_notify_and_fails_the_email(outbox, settings, notify):
    email = queue(outbox)
    wrong = api_key(notify.service_id, str(uuid.uuid4()))
    summary = OutboundMailer(outbox, dataclasses.replace(notify_settings(settings, notify), notify_api_key=wrong)).send_due()
    assert summary.failed == 1 and notify.received == []
    assert notify.refused == [(403, "Invalid token: InvalidSignatureError")]
    assert "GOV.UK Notify answered 403" in row(outbox, email.id).last_error


@pytest.mark.parametrize("status, message", [
    (500, "Internal server error"),
    (429, "Exceeded rate limit for key type LIVE of 3000 requests per 60 seconds"),
])
def test_notify_failing_or_busy_leaves_the_email_queued_to_try_again_later(outbox, settings, notify, status, message):
    email = queue(outbox)
    mailer = OutboundMailer(outbox, notify_settings(settings, notify))
    notify.answer_next(status, message)
    before = utcnow()
    assert mailer.send_due().retrying == 1
    waiting = row(outbox, email.id)
    assert waiting.state == OutgoingState.QUEUED and waiting.attempts == 1
    assert waiting.next_attempt_at > before and message in waiting.last_error
    assert mailer.send_due().total == 0  # not due yet: backoff
    assert mailer.send_due(now=waiting.next_attempt_at).sent == 1
    sent = row(outbox, email.id)
    assert sent.state == OutgoingState.SENT and sent.attempts == 2 and sent.provider_id == notify.received[0]["id"]


def test_when_notify_cannot_be_reached_every_email_of_the_batch_waits_for_the_next_try(outbox, settings):
    first, second = queue(outbox), queue(outbox, to="grace@example.org")
    nobody = dataclasses.replace(settings, outbound_mail="notify", notify_template_id=TEMPLATE_ID,
                                 notify_api_key=api_key(str(uuid.uuid4()), str(uuid.uuid4())),
                                 notify_base_url=f"http://127.0.0.1:{free_port()}")
    summary = OutboundMailer(outbox, nobody).send_due()
    assert summary.retrying == 2
    for email in (first, second):
        waiting = row(outbox, email.id)
        assert waiting.state == OutgoingState.QUEUED
        assert waiting.last_error == "cannot reach GOV.UK Notify: ConnectionError"


def test_notify_taking_too_long_to_answer_is_retried(outbox, settings, notify):
    email = queue(outbox)
    provider = NotifyProvider(api_key=notify.api_key, template_id=TEMPLATE_ID, base_url=notify.base_url, timeout=0.5)
    notify.hang_next()
    with transaction(outbox, writer=False) as session:
        stored = session.get(OutgoingEmail, email.id)
        outcome = provider.deliver(stored, render_email("verify_email", CONTEXT))
    assert outcome.error == "cannot reach GOV.UK Notify: ReadTimeout"
    assert outcome.unreachable and not outcome.permanent


def test_an_email_that_keeps_failing_at_notify_is_failed_after_its_last_attempt(outbox, settings, notify):
    email = queue(outbox)
    with transaction(outbox) as session:
        session.get(OutgoingEmail, email.id).attempts = MAX_ATTEMPTS - 1
    notify.answer_next(500, "Internal server error")
    assert OutboundMailer(outbox, notify_settings(settings, notify)).send_due().failed == 1
    assert row(outbox, email.id).state == OutgoingState.FAILED


EVENT = {"filename": "tellusonce-1.json", "content_type": "application/cloudevents+json", "content": '{"id": "1"}'}


def test_an_email_with_a_file_goes_through_the_file_template_with_the_file_to_link_to(outbox, settings, notify):
    email = queue(outbox, attachments=(EVENT,))
    configured = notify_settings(settings, notify, notify_file_template_id=FILE_TEMPLATE_ID)
    assert OutboundMailer(outbox, configured).send_due().sent == 1
    (request,) = notify.received
    assert request["template_id"] == FILE_TEMPLATE_ID and request["reference"] == str(email.id)
    link = request["personalisation"]["link_to_file"]
    assert base64.b64decode(link["file"]) == b'{"id": "1"}'
    assert link["filename"] == "tellusonce-1.json" and link["confirm_email_before_download"] is True
    assert set(request["personalisation"]) == {"subject", "body", "link_to_file"}


def test_an_email_with_a_file_waits_for_a_file_template_when_none_is_set(outbox, settings, notify):
    email = queue(outbox, attachments=(EVENT,))
    assert OutboundMailer(outbox, notify_settings(settings, notify)).send_due().retrying == 1
    assert notify.received == []
    waiting = row(outbox, email.id)
    assert waiting.state == OutgoingState.QUEUED and "TELLUSONCE_NOTIFY_FILE_TEMPLATE_ID" in waiting.last_error
