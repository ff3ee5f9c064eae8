"""A change emailed ahead of its date: accepted up to three months ahead, each organisation told on
the date (less the notice it asks for), and the confirmation email saying when."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from tellusonce.application.intake import confirm_held_change
from tellusonce.db import transaction
from tellusonce.mailout.render import rendered_bodies
from tellusonce.models import ChangeReport, Notification
from tests.integration.mail.messages import MOVE, add_citizen, outgoing, process_all, typed


def _move_on(day: str) -> str:
    return MOVE.replace("Date of move: 1/11/2026", f"Date of move: {day}").replace("Tell: DVLA, HMRC",
                                                                              "Tell: DVLA, Leeds City Council – Council Tax")


def test_a_move_emailed_ahead_is_sent_on_the_date_and_the_confirmation_says_when(listener, deliver, engine,
                                                                                mail_settings):
    add_citizen(engine)
    deliver(typed(_move_on("15 February 2027")))
    process_all(engine, mail_settings)
    [email] = outgoing(engine)
    text = rendered_bodies(email)[0]
    assert "To be sent to them on 15 February 2027." in text
    assert "To be sent to them on 1 February 2027." in text  # the council asks for 14 days' notice
    with transaction(engine) as session:
        report = session.scalars(select(ChangeReport)).one()
        confirm_held_change(session, report)
    with transaction(engine, writer=False) as session:
        planned = {n.department_id: n.planned_for for n in session.scalars(select(Notification))}
    assert planned == {"dvla": datetime(2027, 2, 15, tzinfo=UTC), "leeds-council-tax": datetime(2027, 2, 1, tzinfo=UTC)}


def test_a_move_emailed_more_than_three_months_ahead_is_refused_saying_so(listener, deliver, engine, mail_settings):
    add_citizen(engine)
    deliver(typed(_move_on("1 March 2027")))
    process_all(engine, mail_settings)
    [email] = outgoing(engine)
    assert "must be no more than 3 months in the future" in rendered_bodies(email)[0]
