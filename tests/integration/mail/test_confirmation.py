"""Confirming an emailed change: the link (GET shows, POST confirms) or a reply saying CONFIRM."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from tellusonce.db import transaction
from tellusonce.mailout.render import rendered_bodies
from tellusonce.models import ChangeReport, EmailToken, Notification, OutgoingEmail, ReportState
from tests.factories import NOW
from tests.integration.mail.messages import MOVE, add_citizen, outgoing, process_all, typed

# A reply is read some minutes after the change it answers, so our answers to the two stand in
# the order they were written (both would otherwise be stamped with the same moment).
REPLY_LATER = timedelta(minutes=5)


def held_change(engine, deliver, settings) -> str:
    """Email a change from a verified citizen and return the token from the confirmation email."""
    add_citizen(engine)
    deliver(typed(MOVE))
    process_all(engine, settings)
    [email] = outgoing(engine)
    return re.search(r"/confirm-email-change/([a-z2-7]+)", rendered_bodies(email)[0]).group(1)


def report_of(engine) -> ChangeReport:
    with transaction(engine, writer=False) as session:
        return session.scalars(select(ChangeReport)).one()


def csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_opening_the_link_shows_what_will_be_sent_and_confirms_nothing(listener, deliver, engine, mail_settings,
                                                                        client):
    token = held_change(engine, deliver, mail_settings)
    for _ in range(2):  # a mail scanner following the link first changes nothing
        page = client.get(f"/confirm-email-change/{token}")
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        assert "Confirm the change you emailed" in html
        assert "Driver and Vehicle Licensing Agency (DVLA)" in html
        assert "5 Park Road" in html and "1 November 2026" in html
    assert report_of(engine).state == ReportState.PENDING_CONFIRMATION


def test_pressing_confirm_submits_the_held_change_once_and_acknowledges_it(listener, deliver, engine, mail_settings,
                                                                           client):
    token = held_change(engine, deliver, mail_settings)
    page = client.get(f"/confirm-email-change/{token}")
    response = client.post(f"/confirm-email-change/{token}", data={"csrf_token": csrf(page.get_data(as_text=True))})
    report = report_of(engine)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/confirm-email-change/done/{report.reference}")
    assert report.state == ReportState.SUBMITTED
    with transaction(engine, writer=False) as session:
        told = sorted(n.department_id for n in session.scalars(select(Notification)))
        used = session.scalars(select(EmailToken)).one().used_at
    assert told == ["dvla", "hmrc"]
    assert used is not None
    ack = outgoing(engine)[-1]
    assert ack.purpose == "mail_confirmed" and report.reference in ack.subject
    done = client.get(response.headers["Location"])
    assert done.status_code == 200 and report.reference in done.get_data(as_text=True)
    again = client.post(f"/confirm-email-change/{token}", data={"csrf_token": csrf(page.get_data(as_text=True))})
    assert again.status_code == 303  # pressed twice: still one report, same page
    with transaction(engine, writer=False) as session:
        assert len(session.scalars(select(Notification)).all()) == 2


def test_a_link_that_has_expired_or_never_existed_does_not_work(listener, deliver, engine, mail_settings, client):
    token = held_change(engine, deliver, mail_settings)
    with transaction(engine) as session:
        session.scalars(select(EmailToken)).one().expires_at = NOW - timedelta(minutes=1)
    for link in (f"/confirm-email-change/{token}", "/confirm-email-change/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"):
        page = client.get(link)
        assert page.status_code == 404
        assert "This link does not work" in page.get_data(as_text=True)
    assert report_of(engine).state == ReportState.PENDING_CONFIRMATION


def test_replying_confirm_to_the_confirmation_email_submits_the_change(listener, deliver, engine, mail_settings):
    token = held_change(engine, deliver, mail_settings)
    deliver(typed("CONFIRM\n\nOn Sunday, Tell us once wrote:\n> Confirm the change you emailed\n",
                  subject="Re: Confirm the change you emailed"), to=f"confirm+{token}@TellUsOnce.test")
    [outcome] = process_all(engine, mail_settings, now=NOW + REPLY_LATER)
    report = report_of(engine)
    assert outcome.reason == f"confirmed {report.reference} by reply"
    assert report.state == ReportState.SUBMITTED
    assert outgoing(engine)[-1].purpose == "mail_confirmed"


def test_a_reply_that_does_not_say_confirm_sends_nothing(listener, deliver, engine, mail_settings):
    token = held_change(engine, deliver, mail_settings)
    deliver(typed("This was not me! Who sent this?\n"), to=f"confirm+{token}@tellusonce.test")
    deliver(typed("Yes, but not this one\n"), to=f"confirm+{token}@tellusonce.test")
    outcomes = process_all(engine, mail_settings, now=NOW + REPLY_LATER)
    assert [o.reason for o in outcomes] == ["answered: reply did not say CONFIRM"] * 2
    assert report_of(engine).state == ReportState.PENDING_CONFIRMATION
    assert outgoing(engine)[-1].purpose == "mail_not_confirmed"


def test_a_reply_to_a_confirmation_that_does_not_exist_is_not_answered(listener, deliver, engine, mail_settings):
    add_citizen(engine)
    deliver(typed("CONFIRM\n"), to="confirm+aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@tellusonce.test")
    [outcome] = process_all(engine, mail_settings)
    assert outcome.reason == "not answered: no such confirmation"
    with transaction(engine, writer=False) as session:
        assert session.scalars(select(OutgoingEmail)).first() is None
