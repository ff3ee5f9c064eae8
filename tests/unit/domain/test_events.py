"""The CloudEvent a department receives: every attribute, the same bytes every time, clear errors."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from tellusonce.domain.events import EventError, build_event, parse_event

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def _event(**overrides):
    values = dict(notification_id=uuid.uuid4(), change_type="address", report_reference="TUO-ABCD1234",
                  payload={"town": "Leeds"}, consent_receipt_id=uuid.uuid4(), created_at=NOW,
                  source="https://tellusonce.example")
    values.update(overrides)
    return values, build_event(**values)


def test_event_is_a_cloudevent_the_sdk_reads_back_with_every_attribute():
    values, body = _event()
    event = parse_event(body)
    assert isinstance(event, CloudEvent)
    assert event.get_id() == str(values["notification_id"])
    assert event.get_specversion() == "1.0"
    assert event.get_source() == "https://tellusonce.example"
    assert event.get_time() == NOW
    assert event.get_datacontenttype() == "application/json"
    assert event.get_data() == {"town": "Leeds", "consent_receipt_id": str(values["consent_receipt_id"])}


def test_event_body_is_byte_for_byte_what_the_cloudevents_sdk_writes():
    values, body = _event(payload={"town": "Leeds", "name": "Zoë Ó Briain", "children": 2}, report_reference="TUO-Z")
    data = {**values["payload"], "consent_receipt_id": str(values["consent_receipt_id"])}
    sdk = CloudEvent({"id": str(values["notification_id"]), "source": values["source"],
                      "type": "tellusonce.change.address.v1", "subject": "TUO-Z", "time": NOW,
                      "datacontenttype": "application/json",
                      "dataschema": "https://tellusonce.example/schemas/events/address.v1.json"}, data)
    assert body == JSONFormat().write(sdk)


def test_event_body_is_the_same_bytes_every_time_it_is_built():
    values, body = _event()
    assert build_event(**values) == body


@pytest.mark.parametrize("payload", [
    {"town": "Leeds", "name": "Zoë Ó Briain", "children": 2, "moved": True, "flat": None},
    {},
    {"address_line_1": 'Flat "B", 1\\2 Infinity Road', "town": "NaN-y-Glo"},  # words that look like NaN
    {"notes": {"nested": [1, 2.5, "three"]}},
])
def test_event_from_the_stored_payload_text_is_the_same_bytes_as_from_the_answers(payload):
    values, body = _event(payload=payload)
    assert build_event(**{**values, "payload": json.dumps(payload)}) == body


@pytest.mark.parametrize("stored", ['{"weight": NaN}', '{"weight": -Infinity}', "[1, 2]", '"Leeds"', "{"])
def test_stored_payload_text_that_is_no_json_object_is_an_event_error(stored):
    with pytest.raises(EventError):
        _event(payload=stored)


def test_stored_payload_text_naming_a_receipt_gets_the_notifications_own():
    values, body = _event(payload='{"town": "Leeds", "consent_receipt_id": "someone else\'s"}')
    assert parse_event(body).get_data() == {"town": "Leeds", "consent_receipt_id": str(values["consent_receipt_id"])}


def test_event_that_cannot_be_serialised_or_has_no_schema_is_an_event_error():
    with pytest.raises(EventError):
        _event(payload={"weight": float("nan")})
    with pytest.raises(EventError):
        _event(change_type="retired")
    with pytest.raises(EventError):
        _event(payload={"moved": NOW})
    with pytest.raises(EventError):
        _event(created_at=NOW.replace(tzinfo=None))
    with pytest.raises(EventError):
        _event(report_reference="")


def test_a_cancellation_is_its_own_event_type_naming_the_original_and_nothing_personal():
    from jsonschema import Draft202012Validator

    from tellusonce.domain.changetypes import get_change_type
    from tellusonce.domain.event_schemas import cancellation_data_schema
    from tellusonce.domain.events import cancellation_data

    original = uuid.uuid4()
    values, body = _event(kind="cancellation",
                          payload=cancellation_data(original_id=original, report_reference="TUO-ABCD1234"))
    event = parse_event(body)
    assert event.get_type() == "tellusonce.change.address.cancelled.v1"
    assert event.get_dataschema() == "https://tellusonce.example/schemas/events/address.cancelled.v1.json"
    assert event.get_id() == str(values["notification_id"]) != str(original)
    assert event.get_subject() == "TUO-ABCD1234"
    assert event.get_data() == {"original_notification_id": str(original), "report_reference": "TUO-ABCD1234",
                                "consent_receipt_id": str(values["consent_receipt_id"])}
    schema = cancellation_data_schema(get_change_type("address"), base_url="https://tellusonce.example")
    assert schema["$id"] == event.get_dataschema()
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    validator.validate(event.get_data())
    assert not validator.is_valid({**event.get_data(), "town": "Leeds"})  # nothing else may ride along
    # The change itself keeps its type.
    assert parse_event(_event()[1]).get_type() == "tellusonce.change.address.v1"


def test_a_notification_of_an_unknown_kind_cannot_be_built():
    with pytest.raises(EventError, match="kind"):
        _event(kind="retraction")


def test_a_correction_is_its_own_event_type_with_only_the_changed_fields_naming_the_original():
    from jsonschema import Draft202012Validator

    from tellusonce.domain.changetypes import get_change_type
    from tellusonce.domain.event_schemas import correction_data_schema
    from tellusonce.domain.events import correction_data
    from tests.unit.domain.test_correction import _Department

    original = uuid.uuid4()
    values, body = _event(kind="correction", payload=correction_data(
        original_id=original, report_reference="TUO-ABCD1234", corrected={"postcode": "LS11 5PT",
                                                                         "address_line_2": None}))
    event = parse_event(body)
    assert event.get_type() == "tellusonce.change.address.corrected.v1"
    assert event.get_dataschema() == "https://tellusonce.example/schemas/events/address.corrected.v1.json"
    assert event.get_id() == str(values["notification_id"]) != str(original)
    assert event.get_data() == {"postcode": "LS11 5PT", "address_line_2": None,
                                "original_notification_id": str(original), "report_reference": "TUO-ABCD1234",
                                "consent_receipt_id": str(values["consent_receipt_id"])}
    schema = correction_data_schema(get_change_type("address"), [_Department(receives={"address": [
        "address_line_1", "address_line_2", "town", "postcode"]})], base_url="https://tellusonce.example")
    assert schema["$id"] == event.get_dataschema()
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    validator.validate(event.get_data())
    assert not validator.is_valid({**event.get_data(), "ni_number": "AB123456C"})  # a field nobody receives
    assert not validator.is_valid({**event.get_data(), "postcode": 7})  # typed as the change schema types it
    assert not validator.is_valid({k: v for k, v in event.get_data().items() if k != "original_notification_id"})
