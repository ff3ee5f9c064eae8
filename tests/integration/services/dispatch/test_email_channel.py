"""The email channel: a department that takes its changes by email gets a readable summary with the event attached."""

from __future__ import annotations

import json

from sqlalchemy import select

from tellusonce.db import transaction
from tellusonce.domain.events import parse_event
from tellusonce.mailout.render import render_email, rendered_bodies
from tellusonce.models import NotificationState, OutgoingEmail
from tests.dispatch_helpers import dispatch_once, notifications, submit


def test_an_email_department_gets_a_readable_summary_with_the_event_attached(committed, settings):
    [queued] = submit(committed, ("tv-licensing",))
    stats = dispatch_once(committed, settings)
    assert stats.delivered == 1
    [n] = notifications(committed)
    assert n.state == NotificationState.DELIVERED
    with transaction(committed, writer=False) as session:
        [email] = session.scalars(select(OutgoingEmail)).all()
    assert email.to_address == "changes@tv-licensing.tellusonce.localhost"
    assert email.related_id == queued.id and email.purpose == "department_notification"
    assert "Change of circumstances TUO-" in email.subject
    text, _ = rendered_bodies(email)
    assert "Postcode: LS11 5PS" in text and "Town or city: Leeds" in text
    # Answers read as the citizen read them on "Check your answers"; the attached event keeps the ISO date.
    assert "Date you moved: 15 November 2026" in text
    assert f"/api/v1/notifications/{queued.id}/ack" in text
    assert f"Its data follows the schema at {settings.base_url}/schemas/events/address.v1.json" in text
    [attachment] = email.attachments
    assert attachment["content_type"] == "application/cloudevents+json"
    event = parse_event(attachment["content"].encode())
    assert event.get_id() == str(queued.id) and json.loads(attachment["content"])["data"]["postcode"] == "LS11 5PS"


def test_a_department_email_queued_before_it_named_the_schema_is_still_written(committed, settings):
    submit(committed, ("tv-licensing",))
    dispatch_once(committed, settings)
    with transaction(committed, writer=False) as session:
        [email] = session.scalars(select(OutgoingEmail)).all()
    older = {k: v for k, v in email.context.items() if k != "dataschema"}
    text, _ = render_email(email.template, older, language=email.language)
    assert "Town or city: Leeds" in text and "follows the schema" not in text
