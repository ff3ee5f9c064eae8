"""What a worker sends for a corrected report: a signed correction event after the original by
webhook, a correction email naming the original, and the corrected copy in place of a queued one."""

from __future__ import annotations

import json
from datetime import timedelta

from jsonschema import Draft202012Validator
from sqlalchemy import select

from tellusonce.db import transaction
from tellusonce.domain.changetypes import get_change_type
from tellusonce.domain.event_schemas import correction_data_schema
from tellusonce.domain.events import parse_event
from tellusonce.mailout.render import rendered_bodies
from tellusonce.models import ChangeReport, Department, OutgoingEmail
from tests.dispatch_helpers import correct, dispatch_once, notifications, point_at, submit
from tests.factories import NOW

LATER = NOW + timedelta(minutes=10)


def test_a_delivered_report_corrected_is_followed_by_a_signed_correction_event_with_its_own_id(
        committed, settings, department_server):
    point_at(committed, department_server)
    [original] = submit(committed, ("dvla",))
    dispatch_once(committed, settings)
    correct(committed, original.report_id, now=LATER, postcode="LS11 5PT")
    dispatch_once(committed, settings, now=LATER)
    first, second = department_server.received
    assert first.headers["webhook-id"] == str(original.id)
    event = parse_event(second.body)
    assert event.get_type() == "tellusonce.change.address.corrected.v1"
    assert event.get_dataschema() == f"{settings.base_url}/schemas/events/address.corrected.v1.json"
    assert second.headers["webhook-id"] == event.get_id() != str(original.id)
    assert second.headers["webhook-signature"].startswith("v1,")
    assert event.get_data() == {"postcode": "LS11 5PT", "original_notification_id": str(original.id),
                                "report_reference": event.get_subject(),
                                "consent_receipt_id": str(original.consent_receipt_id)}
    with transaction(committed, writer=False) as session:
        departments = session.scalars(select(Department)).all()
        schema = correction_data_schema(get_change_type("address"), departments, base_url=settings.base_url)
    Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER).validate(event.get_data())
    assert {n.kind: n.state for n in notifications(committed)} == {"change": "delivered", "correction": "delivered"}


def test_a_queued_copy_corrected_is_sent_once_as_corrected(committed, settings, department_server):
    point_at(committed, department_server)
    [original] = submit(committed, ("dvla",))
    correct(committed, original.report_id, now=LATER, postcode="LS11 5PT")
    dispatch_once(committed, settings, now=LATER)
    [only] = department_server.received
    event = parse_event(only.body)
    assert event.get_type() == "tellusonce.change.address.v1" and event.get_id() != str(original.id)
    assert event.get_data()["postcode"] == "LS11 5PT"


def test_an_email_department_gets_a_correction_email_with_only_what_changed(committed, settings):
    [original] = submit(committed, ("tv-licensing",))
    dispatch_once(committed, settings)
    correct(committed, original.report_id, now=LATER, postcode="LS11 5PT", address_line_2="Holbeck")
    dispatch_once(committed, settings, now=LATER)
    with transaction(committed, writer=False) as session:
        first, email = session.scalars(select(OutgoingEmail).order_by(OutgoingEmail.created_at)).all()
        reference = session.get_one(ChangeReport, original.report_id).reference
    assert first.related_id == original.id
    assert email.subject.startswith(f"Corrected: change of circumstances {reference}")
    text, _ = rendered_bodies(email)
    assert f"Notification corrected: {original.id}" in text and "has corrected it" in text
    assert "Postcode: LS11 5PT" in text and "Holbeck" in text
    assert "Canal Wharf" not in text  # what did not change is not sent again
    assert f"{settings.base_url}/schemas/events/address.corrected.v1.json" in text
    [attachment] = email.attachments
    event = json.loads(attachment["content"])
    assert event["type"] == "tellusonce.change.address.corrected.v1"
    assert event["data"]["original_notification_id"] == str(original.id)
