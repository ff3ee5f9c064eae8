"""Hostile mail over SMTP: read in bounded time, apart from the database, and answered or quarantined."""

from __future__ import annotations

import dataclasses
import threading

from tellusonce.mailout.render import rendered_bodies
from tellusonce.models import InboundStatus
from tellusonce_mail.processing import process_next, reprocess
from tellusonce_mail.reading import MessageReader
from tests.dispatch_helpers import wait_for
from tests.integration.mail.messages import BAD, add_citizen, inbound, outgoing, process_all, slow_html


def nested_thousand_deep() -> bytes:
    opening = b"".join(b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i) for i in range(1000))
    closing = b"".join(b"\r\n--b%d--\r\n" % i for i in reversed(range(1000)))
    return (b'From: ada@example.org\r\nTo: changes@tellusonce.test\r\nSubject: Moving house\r\n'
            b'Content-Type: multipart/mixed; boundary="top"\r\n\r\n--top\r\nContent-Type: text/plain\r\n\r\n'
            b"Change: moving house\r\nNew address: 5 Park Road, Leeds, LS2 9JT\r\nDate of move: 1/11/2026\r\n"
            b"Tell: DVLA\r\n--top\r\n"
            + opening + b"Content-Type: text/plain\r\n\r\nTell: everyone\r\n" + closing + b"\r\n--top--\r\n")


def test_the_message_that_froze_the_service_is_answered_and_says_which_line_was_not_read(
        listener, deliver, engine, mail_settings):
    add_citizen(engine)
    deliver(BAD, mail_from="ada@example.org")
    [outcome] = process_all(engine, mail_settings)
    assert outcome.status == InboundStatus.PROCESSED
    assert outcome.reason.startswith("answered: ")
    [reply] = outgoing(engine)
    text, _ = rendered_bodies(reply)
    assert "We did not read all of your email" in text
    assert "1 line longer than 1000 characters" in text


def test_a_thousand_levels_of_nesting_are_read_to_a_sane_depth_and_the_reply_says_the_rest_was_not(
        listener, deliver, engine, mail_settings):
    add_citizen(engine)
    deliver(nested_thousand_deep(), mail_from="ada@example.org")
    # Depth, not time, is what this tests: a budget no busy machine runs out of.
    [outcome] = process_all(engine, dataclasses.replace(mail_settings, mail_parse_seconds=120))
    assert outcome.status == InboundStatus.PROCESSED
    assert outcome.reason.startswith("held as TUO-"), outcome.reason
    [reply] = outgoing(engine)
    text, _ = rendered_bodies(reply)
    assert "Parts of your email inside more than 20 levels" in text
    assert "Driver and Vehicle Licensing Agency (DVLA)" in text


def test_a_message_not_read_within_the_time_budget_is_quarantined_and_kept_for_an_operator_to_reprocess(
        listener, deliver, engine, mail_settings):
    add_citizen(engine)
    deliver(slow_html(), mail_from="ada@example.org")
    deliver(BAD, mail_from="ada@example.org")
    hurried = MessageReader(seconds=0.2)
    try:
        slow = process_next(engine, mail_settings, reader=hurried)
        assert slow is not None and slow.status == InboundStatus.QUARANTINED
        assert slow.reason == "not read within the time budget of 0.2 s"
        after = process_next(engine, mail_settings, reader=hurried)  # a new reader process reads the next one
        assert after is not None and after.status == InboundStatus.PROCESSED
    finally:
        hurried.close()
    quarantined, processed = inbound(engine)
    assert quarantined.status == InboundStatus.QUARANTINED and quarantined.raw == slow_html()
    patient = dataclasses.replace(mail_settings, mail_parse_seconds=120.0)
    again = reprocess(engine, patient, quarantined.id)
    assert again is not None and again.status == InboundStatus.PROCESSED, again


def test_while_a_message_is_read_the_database_stays_free_for_others_to_write(listener, deliver, engine,
                                                                             mail_settings):
    add_citizen(engine)
    deliver(slow_html(), mail_from="ada@example.org")
    reader = MessageReader(seconds=120.0)
    processing = threading.Thread(target=process_next, args=(engine, mail_settings), kwargs={"reader": reader})
    try:
        processing.start()
        wait_for(lambda: reader.reading, timeout=60)
        add_citizen(engine, email="grace@example.org")  # a write transaction, committed while the message is read
        [message] = inbound(engine)
        assert message.status == InboundStatus.RECEIVED and reader.reading
        processing.join(timeout=120)
    finally:
        reader.close()
    assert inbound(engine)[0].status != InboundStatus.RECEIVED
