"""The check before sending, and what a worker sends for a cancelled report: withheld originals,
cancellation events by webhook and by email, each after its original."""

from __future__ import annotations

import json

from sqlalchemy import select, update

from tellusonce.data.outbox import replay_dead
from tellusonce.db import transaction
from tellusonce.domain.events import parse_event
from tellusonce.mailout.render import rendered_bodies
from tellusonce.models import ChangeReport, DeliveryAttempt, Notification, NotificationState, OutgoingEmail
from tests.dispatch_helpers import cancel, dispatch_once, notifications, point_at, submit
from tests.factories import NOW


def test_a_delivered_report_cancelled_is_followed_by_a_signed_cancellation_event_with_its_own_id(
        committed, settings, department_server):
    point_at(committed, department_server)
    [original] = submit(committed, ("dvla",))
    dispatch_once(committed, settings)
    cancel(committed, original.report_id, now=NOW)
    dispatch_once(committed, settings)
    first, second = department_server.received
    assert first.headers["webhook-id"] == str(original.id)
    event = parse_event(second.body)
    assert event.get_type() == "tellusonce.change.address.cancelled.v1"
    assert second.headers["webhook-id"] == event.get_id() != str(original.id)
    assert second.headers["webhook-signature"].startswith("v1,")
    assert event.get_data()["original_notification_id"] == str(original.id)
    assert {n.kind: n.state for n in notifications(committed)} == {"change": "delivered", "cancellation": "delivered"}


def test_a_dead_letter_of_a_cancelled_report_replayed_is_not_sent(committed, settings, department_server):
    point_at(committed, department_server)
    [original] = submit(committed, ("dvla",))
    with transaction(committed) as session:
        session.execute(update(Notification).values(state=NotificationState.DEAD, dead_at=NOW, next_attempt_at=None))
    cancel(committed, original.report_id, now=NOW)
    with transaction(committed) as session:
        assert replay_dead(session, now=NOW) == 1
    dispatch_once(committed, settings)
    assert department_server.received == []
    [n] = notifications(committed)
    assert n.state == NotificationState.CANCELLED
    with transaction(committed, writer=False) as session:
        [attempt] = session.scalars(select(DeliveryAttempt)).all()
    assert attempt.outcome == "cancelled" and "report was cancelled" in attempt.error


def test_an_email_department_gets_a_cancellation_email_naming_the_original(committed, settings):
    [original] = submit(committed, ("tv-licensing",))
    dispatch_once(committed, settings)
    cancel(committed, original.report_id, now=NOW)
    dispatch_once(committed, settings)
    with transaction(committed, writer=False) as session:
        first, email = session.scalars(select(OutgoingEmail).order_by(OutgoingEmail.created_at)).all()
        reference = session.get_one(ChangeReport, original.report_id).reference
    assert first.related_id == original.id
    assert email.subject.startswith(f"Cancelled: change of circumstances {reference}")
    text, _ = rendered_bodies(email)
    assert f"Notification cancelled: {original.id}" in text and "has cancelled it" in text
    assert "LS11 5PS" not in text and "Leeds" not in text  # nothing personal: identifiers only
    assert f"{settings.base_url}/schemas/events/address.cancelled.v1.json" in text
    [attachment] = email.attachments
    event = json.loads(attachment["content"])
    assert event["type"] == "tellusonce.change.address.cancelled.v1"
    assert event["data"]["original_notification_id"] == str(original.id)
