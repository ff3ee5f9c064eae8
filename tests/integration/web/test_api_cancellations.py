"""Cancellation events in the department API and the feed: listed after the original, acknowledged like any."""

from __future__ import annotations

import json

from jsonschema import Draft202012Validator
from sqlalchemy import update

from tellusonce.clock import utcnow
from tellusonce.db import transaction
from tellusonce.domain.events import parse_event
from tellusonce.models import Notification, NotificationState
from tests.dispatch_helpers import api_headers, cancel, notifications, submit


def test_a_feed_department_gets_the_cancellation_after_the_original_and_acknowledges_it(app, client, runner):
    engine = app.extensions["tellusonce.engine"]
    [original] = submit(engine, ("meadow-lane-surgery",))
    headers = api_headers(runner, "meadow-lane-surgery")
    first = client.get("/api/v1/notifications", headers=headers).json["notifications"]
    assert [(i["id"], i["kind"], i["state"]) for i in first] == [(str(original.id), "change", "delivered")]
    cancel(engine, original.report_id, now=utcnow())
    page = client.get("/api/v1/notifications", headers=headers).json
    original_item, item = page["notifications"]
    assert original_item["id"] == str(original.id)  # the original first, then what it refers to
    assert item["kind"] == "cancellation" and item["original_id"] == str(original.id)
    assert item["state"] == NotificationState.DELIVERED  # fetched: delivered, as any feed notification
    event = parse_event(json.dumps(item["event"]).encode())
    assert event.get_type() == "tellusonce.change.address.cancelled.v1" and event.get_id() == item["id"]
    assert event.get_data() == {"original_notification_id": str(original.id),
                                "report_reference": original_item["report_reference"],
                                "consent_receipt_id": str(original.consent_receipt_id)}
    schema = client.get(event.get_dataschema().replace("http://localhost", "")).json
    Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER).validate(event.get_data())
    after = client.get(f"/api/v1/notifications?after={original.id}", headers=headers).json["notifications"]
    assert [i["id"] for i in after] == [item["id"]]
    acked = client.post(item["ack_url"], headers=headers)
    assert acked.status_code == 200 and acked.json["state"] == NotificationState.ACKNOWLEDGED


def test_a_webhook_department_sees_a_cancellation_in_the_api_and_another_department_does_not(app, client, runner):
    engine = app.extensions["tellusonce.engine"]
    queued = submit(engine, ("dvla", "hmrc"))
    with transaction(engine) as session:
        session.execute(update(Notification).where(Notification.department_id == "dvla")
                        .values(state=NotificationState.DELIVERED, delivered_at=utcnow(), next_attempt_at=None))
    cancel(engine, queued[0].report_id, now=utcnow())
    dvla = client.get("/api/v1/notifications", headers=api_headers(runner, "dvla")).json["notifications"]
    assert [i["kind"] for i in dvla] == ["change", "cancellation"]
    assert dvla[1]["state"] == NotificationState.PENDING  # still to come by webhook, after the original
    hmrc = client.get("/api/v1/notifications", headers=api_headers(runner, "hmrc")).json["notifications"]
    assert hmrc == []  # never sent, so cancelled: nothing to show, no cancellation to send
    other = client.get(f"/api/v1/notifications/{dvla[1]['id']}", headers=api_headers(runner, "hmrc"))
    assert other.status_code == 404
    kinds = {(n.department_id, n.kind, n.state) for n in notifications(engine)}
    assert ("hmrc", "change", NotificationState.CANCELLED) in kinds


def test_the_cancellation_schemas_are_published(client):
    response = client.get("/schemas/events/address.cancelled.v1.json")
    assert response.status_code == 200 and response.mimetype == "application/schema+json"
    assert response.json["required"] == ["original_notification_id", "report_reference", "consent_receipt_id"]
    assert client.get("/schemas/events/address.v1.json").json["$id"].endswith("/events/address.v1.json")
    assert client.get("/schemas/events/nothing.cancelled.v1.json").status_code == 404
    listing = client.get("/schemas/").get_data(as_text=True)
    assert "tellusonce.change.death.cancelled.v1" in listing and "/schemas/events/death.cancelled.v1.json" in listing
