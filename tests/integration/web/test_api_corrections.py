"""Correction events in the department API and the feed: listed after the original, acknowledged like any."""

from __future__ import annotations

import json

from jsonschema import Draft202012Validator

from tellusonce.clock import utcnow
from tellusonce.domain.events import parse_event
from tellusonce.models import NotificationState
from tests.dispatch_helpers import api_headers, correct, submit


def test_a_feed_department_gets_the_correction_after_the_original_and_acknowledges_it(app, client, runner):
    engine = app.extensions["tellusonce.engine"]
    [original] = submit(engine, ("meadow-lane-surgery",))
    headers = api_headers(runner, "meadow-lane-surgery")
    first = client.get("/api/v1/notifications", headers=headers).json["notifications"]
    assert [(i["id"], i["kind"], i["state"]) for i in first] == [(str(original.id), "change", "delivered")]
    correct(engine, original.report_id, now=utcnow(), postcode="LS11 5PT")
    page = client.get("/api/v1/notifications", headers=headers).json
    original_item, item = page["notifications"]
    assert original_item["id"] == str(original.id)  # the original first, then what corrects it
    assert item["kind"] == "correction" and item["original_id"] == str(original.id)
    assert item["state"] == NotificationState.DELIVERED  # fetched: delivered, as any feed notification
    event = parse_event(json.dumps(item["event"]).encode())
    assert event.get_type() == "tellusonce.change.address.corrected.v1" and event.get_id() == item["id"]
    assert event.get_data() == {"postcode": "LS11 5PT", "original_notification_id": str(original.id),
                                "report_reference": original_item["report_reference"],
                                "consent_receipt_id": str(original.consent_receipt_id)}
    schema = client.get(event.get_dataschema().replace("http://localhost", "")).json
    Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER).validate(event.get_data())
    assert not Draft202012Validator(schema).is_valid({**event.get_data(), "reason": "marriage"})  # not this change
    after = client.get(f"/api/v1/notifications?after={original.id}", headers=headers).json["notifications"]
    assert [i["id"] for i in after] == [item["id"]]
    acked = client.post(item["ack_url"], headers=headers)
    assert acked.status_code == 200 and acked.json["state"] == NotificationState.ACKNOWLEDGED


def test_a_feed_department_that_had_not_fetched_it_sees_only_the_corrected_copy(app, client, runner):
    engine = app.extensions["tellusonce.engine"]
    [original] = submit(engine, ("meadow-lane-surgery",))
    correct(engine, original.report_id, now=utcnow(), postcode="LS11 5PT")
    items = client.get("/api/v1/notifications", headers=api_headers(runner, "meadow-lane-surgery")).json["notifications"]
    [item] = items
    assert item["kind"] == "change" and item["id"] != str(original.id)
    assert item["event"]["data"]["postcode"] == "LS11 5PT"


def test_another_department_does_not_see_the_correction(app, client, runner):
    engine = app.extensions["tellusonce.engine"]
    [original] = submit(engine, ("meadow-lane-surgery",))
    client.get("/api/v1/notifications", headers=api_headers(runner, "meadow-lane-surgery"))
    correct(engine, original.report_id, now=utcnow(), postcode="LS11 5PT")
    assert client.get("/api/v1/notifications", headers=api_headers(runner, "hmrc")).json["notifications"] == []
