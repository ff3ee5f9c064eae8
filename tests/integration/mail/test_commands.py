"""The operator's mail commands, and the listener as its own process (kill -9 after 250 loses nothing)."""

from __future__ import annotations

import os
import signal
import smtplib
import time
from email import policy

import pytest
from click.testing import CliRunner
from flask.cli import ScriptInfo
from sqlalchemy import select

from tellusonce.cli import DEMO_PROCESSES, main
from tellusonce.db import transaction
from tellusonce.models import InboundMessage, InboundStatus, OutgoingEmail, OutgoingState
from tests.integration.mail.messages import MOVE, add_citizen, language_check_lifted, process_all, typed
from tests.mail_helpers import listener_process


def run(app, *args):
    return CliRunner().invoke(main, list(args), obj=ScriptInfo(create_app=lambda: app), catch_exceptions=False)


def test_the_demo_starts_the_mail_listener_and_the_mail_sender():
    assert ("mail listener", ["smtpd"], "smtp_listen") in DEMO_PROCESSES
    assert ("mail sender", ["mail", "send"], None) in DEMO_PROCESSES


def test_mail_list_shows_quarantined_messages_and_reprocess_recovers_them(app, listener, deliver, engine,
                                                                           mail_settings):
    with language_check_lifted(engine):
        add_citizen(engine, language="zz")  # dates cannot be written in a language we have no locale for
    deliver(typed(MOVE))
    [outcome] = process_all(engine, mail_settings)
    assert outcome.status == InboundStatus.QUARANTINED
    listing = run(app, "mail", "list", "--status", "quarantined")
    assert listing.exit_code == 0
    [line] = [line for line in listing.output.splitlines() if "quarantined" in line and "UnknownLocaleError" in line]
    message_id = line.split()[0]
    assert "1 quarantined" in listing.output
    shown = run(app, "mail", "show", message_id)
    assert "status:         quarantined" in shown.output and "changes@tellusonce.test" in shown.output
    failed_again = run(app, "mail", "reprocess", message_id)
    assert failed_again.exit_code == 1
    from tellusonce.models import Citizen

    with transaction(engine) as session:
        session.scalars(select(Citizen)).one().language = "en"
    fixed = run(app, "mail", "reprocess", message_id)
    assert fixed.exit_code == 0 and "processed: held as TUO-" in fixed.output
    assert "0 quarantined" in run(app, "mail", "list").output


def test_mail_reprocess_names_a_message_that_does_not_exist(app):
    result = run(app, "mail", "reprocess", "00000000-0000-0000-0000-000000000000")
    assert result.exit_code == 1 and "no inbound message" in result.output


def test_mail_send_once_captures_queued_email_in_test_mode(app, listener, deliver, engine, mail_settings):
    add_citizen(engine)
    deliver(typed(MOVE))
    process_all(engine, mail_settings)
    result = run(app, "mail", "send", "--once")
    assert result.exit_code == 0 and "1 captured" in result.output
    with transaction(engine, writer=False) as session:
        assert [e.state for e in session.scalars(select(OutgoingEmail))] == [OutgoingState.CAPTURED]


@pytest.mark.slow
def test_kill_9_right_after_250_loses_nothing(database_url, engine, database_cleaner, tmp_path):
    try:
        with listener_process(database_url, tmp_path, "--no-processing") as listener:
            bodies = [typed(f"Change: address\nPostcode: LS{n} 1AA\n").as_bytes(policy=policy.SMTP)
                      for n in range(1, 6)]
            with smtplib.SMTP("127.0.0.1", listener.port, timeout=10) as smtp:
                for body in bodies:
                    smtp.sendmail("ada@example.org", ["changes@tellusonce.test"], body)
                os.kill(listener.process.pid, signal.SIGKILL)  # the moment the last 250 arrives
                started = time.monotonic()
                listener.process.wait(timeout=10)
                assert time.monotonic() - started < 5
        with transaction(engine, writer=False) as session:
            kept = [m.raw for m in session.scalars(select(InboundMessage).order_by(InboundMessage.received_at))]
        assert kept == bodies
    finally:
        database_cleaner(engine)
