"""The wire, piece by piece: events, signatures and secrets, the retry schedule, classification."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from standardwebhooks import Webhook

from services.dispatch.retry import MAX_ATTEMPTS, next_attempt_at
from services.dispatch.signing import MissingSecret, department_secrets, derived_secret, signature_headers
from services.dispatch.webhook import (
    Outcome,
    WebhookSender,
    classify,
    is_public_address,
    parse_retry_after,
    url_problem,
)
from tellusonce.domain.events import EventError, build_event, parse_event
from tellusonce.settings import Settings

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
TEST = Settings(mode="test", secret_key="k" * 40)
PRODUCTION = Settings(mode="production", secret_key="k" * 40, outbound_mail="smtp://mail:25")
GOOD_SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


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


def test_signature_verifies_with_the_standard_webhooks_library_and_each_rotated_secret():
    body = b'{"id": "x"}'
    other = derived_secret("another secret key for rotation", "dvla")
    headers = signature_headers(body, msg_id="x", at=datetime.now(UTC), secrets=[GOOD_SECRET, other])
    assert headers["webhook-id"] == "x"
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (GOOD_SECRET, other):
        Webhook(secret).verify(body, headers, json_parse=False)


def test_secrets_come_from_the_named_variable_separated_by_commas_or_spaces():
    other = derived_secret("x", "y")
    found = department_secrets(PRODUCTION, "dvla", "SECRET_DVLA", environ={"SECRET_DVLA": f" {GOOD_SECRET},{other} "})
    assert found == [GOOD_SECRET, other]


def test_demo_and_test_mode_derive_a_stable_secret_per_department():
    assert department_secrets(TEST, "dvla", "UNSET", environ={}) == [derived_secret("k" * 40, "dvla")]
    assert derived_secret("k" * 40, "dvla") != derived_secret("k" * 40, "hmrc")
    Webhook(derived_secret("k" * 40, "dvla"))  # a valid whsec_ secret


@pytest.mark.parametrize("value, problem", [
    (None, "SECRET_DVLA is not set"),
    ("sk_live_123", "must start with whsec_"),
    ("whsec_!!!", "not valid base64"),
    ("whsec_c2hvcnQ=", "at least 24 random bytes"),
])
def test_production_never_defaults_a_missing_or_malformed_secret(value, problem):
    environ = {} if value is None else {"SECRET_DVLA": value}
    with pytest.raises(MissingSecret) as error:
        department_secrets(PRODUCTION, "dvla", "SECRET_DVLA", environ=environ)
    assert problem in str(error.value) and error.value.department_id == "dvla"


def test_retry_schedule_is_five_seconds_to_ten_hours_then_dead():
    rng = random.Random(1)
    delays = [next_attempt_at(n, now=NOW, rng=rng) - NOW for n in range(1, MAX_ATTEMPTS)]
    expected = [timedelta(seconds=5), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2),
                timedelta(hours=5), timedelta(hours=10), timedelta(hours=10)]
    for delay, base in zip(delays, expected, strict=True):
        assert base * 0.9 <= delay <= base * 1.1
    assert len(set(delays)) == len(delays)
    assert next_attempt_at(MAX_ATTEMPTS, now=NOW) is None
    assert MAX_ATTEMPTS == 8


def test_retry_after_longer_than_the_schedule_is_honoured():
    assert next_attempt_at(1, now=NOW, retry_after=600) == NOW + timedelta(seconds=600)
    assert next_attempt_at(4, now=NOW, retry_after=1) - NOW >= timedelta(hours=1.8)


def test_retry_after_is_read_as_seconds_or_an_http_date_and_capped():
    assert parse_retry_after("120") == 120
    assert parse_retry_after("Sun, 22 Nov 2026 12:02:00 GMT", now=NOW) == 120
    assert parse_retry_after("999999999") == 24 * 3600
    assert parse_retry_after("soon") is None


@pytest.mark.parametrize("status, outcome", [
    (200, Outcome.DELIVERED), (204, Outcome.DELIVERED), (302, Outcome.RETRY), (400, Outcome.PERMANENT),
    (401, Outcome.PERMANENT), (404, Outcome.PERMANENT), (408, Outcome.RETRY), (410, Outcome.GONE),
    (429, Outcome.RETRY), (500, Outcome.RETRY), (503, Outcome.RETRY),
])
def test_answers_are_classified(status, outcome):
    assert classify(status, {}, b"", 3).outcome == outcome


@pytest.mark.parametrize("address, public", [
    ("127.0.0.1", False), ("10.1.2.3", False), ("192.168.0.1", False), ("169.254.169.254", False),
    ("100.64.0.1", False), ("::1", False), ("fe80::1", False), ("::ffff:127.0.0.1", False),
    ("0.0.0.0", False), ("224.0.0.1", False), ("8.8.8.8", True), ("2a00:1450:4009:81f::200e", True),
])
def test_private_loopback_and_link_local_addresses_are_not_public(address, public):
    assert is_public_address(address) is public


def test_urls_are_refused_for_private_addresses_and_plain_http_in_production():
    assert "private" in url_problem("http://127.0.0.1/x", https_only=False, allow_private_network=False)
    assert url_problem("http://127.0.0.1/x", https_only=False, allow_private_network=True) is None
    assert "https" in url_problem("http://dvla.example/x", https_only=True, allow_private_network=False)
    assert url_problem("https://dvla.example/x", https_only=True, allow_private_network=False) is None
    assert "not an http" in url_problem("ftp://dvla.example/x", https_only=False, allow_private_network=False)


def test_a_name_that_resolves_to_loopback_is_refused_when_connecting():
    async def go():
        async with WebhookSender().init(TEST, connect_timeout=1, total_timeout=2) as sender:
            return await sender.deliver(url="http://localhost:9/hook", body=b"{}", headers={})

    result = asyncio.run(go())
    assert result.outcome is Outcome.RETRY and result.error.startswith("refused: localhost resolves only")
