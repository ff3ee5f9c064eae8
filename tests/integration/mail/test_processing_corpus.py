"""Realistic messages, sent over SMTP and processed: each one ends held, answered or ignored, never lost."""

from __future__ import annotations

import dataclasses
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from sqlalchemy import insert, select

from tellusonce.clock import utcnow
from tellusonce.db import transaction
from tellusonce.models import ChangeReport, InboundMessage, InboundStatus, ReportState
from tellusonce.settings import Settings
from tellusonce_mail.processing import process_next
from tests.factories import NOW
from tests.integration.mail.messages import add_citizen, inbound, outgoing, process_all
from tests.unit.mail.strategies import messages

CORPUS = Path(__file__).parent / "corpus"

# What becomes of each message from a verified citizen.
EXPECTED = {
    "gmail_html_only.eml": "held as TUO-",
    "outlook_reply_quoted.eml": "held as TUO-",
    "latin1_quoted_printable.eml": "held as TUO-",
    "utf8_base64.eml": "held as TUO-",
    "alternative_with_attachment.eml": "held as TUO-",
    "empty_body.eml": "answered: no change recognised",
    "unknown_charset_and_broken_headers.eml": "answered: ",
    "out_of_office.eml": "not answered: Auto-Submitted",
    "bounce_report.eml": "not answered: ",
}


def raw(name: str) -> bytes:
    return (CORPUS / name).read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def test_the_corpus_is_all_expected():
    assert sorted(p.name for p in CORPUS.glob("*.eml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_realistic_message_is_held_answered_or_ignored(listener, deliver, engine, mail_settings, name):
    add_citizen(engine)
    deliver(raw(name), mail_from="ada@example.org")
    [outcome] = process_all(engine, mail_settings)
    assert outcome.status == InboundStatus.PROCESSED
    assert outcome.reason.startswith(EXPECTED[name]), outcome.reason
    replies = outgoing(engine)
    if EXPECTED[name].startswith("not answered"):
        assert replies == []
    else:
        assert [r.to_address for r in replies] == ["ada@example.org"]


def test_the_changes_in_the_corpus_are_read_correctly(listener, deliver, engine, mail_settings):
    add_citizen(engine)
    for name in ("gmail_html_only.eml", "utf8_base64.eml", "alternative_with_attachment.eml"):
        deliver(raw(name), mail_from="ada@example.org")
    process_all(engine, mail_settings)
    with transaction(engine, writer=False) as session:
        reports = {r.change_type: r for r in session.scalars(select(ChangeReport))}
    assert reports["address"].answers["postcode"] == "LS2 9JT"
    assert reports["address"].pending_request["recipients"] == ["dvla", "hmrc"]
    assert reports["name"].answers["new_given_names"] == "Siân"
    assert reports["name"].answers["reason"] == "marriage"
    assert reports["contact"].answers["phone"] == "+447911123456"
    assert reports["contact"].pending_request["recipients"] == ["hmrc"]  # not the attachment's "Tell: everyone"
    assert {r.state for r in reports.values()} == {ReportState.PENDING_CONFIRMATION}


@pytest.mark.slow
def test_a_five_megabyte_body_is_accepted_and_processed(listener, deliver, engine, mail_settings):
    add_citizen(engine)
    filler = b"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.\r\n" * 65_000
    message = (b"From: ada@example.org\r\nSubject: Moving house\r\nContent-Type: text/plain\r\n\r\n"
               b"New address: 5 Park Road, Leeds, LS2 9JT\r\nDate of move: 1/11/2026\r\nTell: DVLA\r\n\r\n" + filler)
    assert len(message) > 5 * 1024 * 1024
    deliver(message, mail_from="ada@example.org")
    [outcome] = process_all(engine, mail_settings)
    assert outcome.reason.startswith("held as TUO-")
    assert inbound(engine)[0].size == len(message)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw_message=messages())
def test_whatever_is_stored_ends_processed_or_quarantined(engine, settings_for_fuzz, database_cleaner, raw_message):
    message_id = uuid.uuid4()
    with transaction(engine) as session:
        session.execute(insert(InboundMessage), [{
            "id": message_id, "received_at": utcnow(), "peer": "127.0.0.1:1", "helo": "fuzz", "status": "received",
            "mail_from": "ada@example.org", "rcpt_tos": ["changes@tellusonce.test"], "raw": raw_message,
            "size": len(raw_message), "attempts": 0}])
    try:
        while process_next(engine, settings_for_fuzz, now=NOW, dnsfunc=no_dns) is not None:
            pass
        with transaction(engine, writer=False) as session:
            stored = session.get(InboundMessage, message_id)
        # and not quarantined: nothing in here is a reason for processing to fail
        assert stored.status == InboundStatus.PROCESSED, stored.status_reason
    finally:
        database_cleaner(engine)


def no_dns(name: bytes, timeout: int = 5) -> None:
    """DNS is a boundary we do not own: a fuzzed DKIM-Signature finds no key."""
    return None


@pytest.fixture
def settings_for_fuzz(mail_settings: Settings) -> Settings:
    return dataclasses.replace(mail_settings)
