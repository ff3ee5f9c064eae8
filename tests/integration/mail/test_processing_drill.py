"""Drill (issue 14): the message that froze the service, and one that takes seconds to read, arrive
while a citizen signs in and a dispatcher delivers. Nobody waits for them."""

from __future__ import annotations

import smtplib

from tellusonce.models import InboundStatus
from tellusonce_mail.processing import MessageWorker, reader_for
from tellusonce_mail.server import ListenerThread
from tests.account_helpers import make_citizen, sign_in
from tests.dispatch_helpers import BackgroundWorker, DepartmentServer, point_at, reset_departments, submit, wait_for
from tests.integration.mail.messages import BAD, add_citizen, inbound, slow_html


def test_hostile_mail_holds_up_no_sign_in_no_delivery_and_no_smtp_session(app, client, engine, mail_settings,
                                                                          database_cleaner):
    add_citizen(engine)  # the confirmed account whose From the bad message carries
    make_citizen(app, "grace@example.com")
    reset_departments(engine)
    worker = MessageWorker(engine, mail_settings, poll=30).start()
    try:
        with DepartmentServer() as department, ListenerThread(mail_settings, engine=engine,
                                                             on_commit=worker.wake) as listener:
            point_at(engine, department, ("dvla",))
            with smtplib.SMTP(listener.host, listener.port, timeout=10) as smtp:
                smtp.sendmail("ada@example.org", ["changes@tellusonce.test"], slow_html())
                smtp.sendmail("ada@example.org", ["changes@tellusonce.test"], BAD)
            wait_for(lambda: reader_for(mail_settings).reading, timeout=60)

            # While the mail is being read: a citizen signs in, and changes are delivered.
            sign_in(client, "grace@example.com")
            with BackgroundWorker(engine, mail_settings):
                submit(engine, ("dvla",), count=3)
                wait_for(lambda: len(department.received) >= 3, timeout=30)
            with smtplib.SMTP(listener.host, listener.port, timeout=10) as smtp:
                assert smtp.ehlo()[0] == 250

            wait_for(lambda: all(m.status != InboundStatus.RECEIVED for m in inbound(engine)), timeout=60)
        slow, bad = inbound(engine)
        assert slow.status in (InboundStatus.PROCESSED, InboundStatus.QUARANTINED), slow.status_reason
        assert bad.status == InboundStatus.PROCESSED and bad.status_reason.startswith("answered: ")
    finally:
        worker.stop()
        database_cleaner(engine)
        reset_departments(engine)
