"""The wire format of a notification: a CloudEvents 1.0 event in structured JSON.

The same event is the webhook body, the email attachment and what the department
API returns, so it lives here, where the worker and the API can both build it.

The attributes are checked against the specification by the ``cloudevents``
SDK, which also reads events back. ``source`` is the service's public URL
(``Settings.base_url``), and ``dataschema`` the schema of the event's data published
there (``/schemas/events/<type>.v1.json``), so a department can fetch it and validate.

The body is the same bytes on every retry: ``id`` is the notification id and ``time``
is when the notification was made, so a department that de-duplicates by id or by
body sees one event.

A notification's ``kind`` picks the event's type: the change itself is
``tellusonce.change.<type>.v1``; a cancellation is ``tellusonce.change.<type>.cancelled.v1``,
whose data names only the original notification, the report and the consent receipt
(``cancellation_data``); a correction is ``tellusonce.change.<type>.corrected.v1``, whose data
holds the corrected fields the organisation may see, naming the original notification and the
report as a cancellation does (``correction_data``). An organisation told of anything about a
citizen who closes their account and asks for it to be told (UK GDPR Art. 19) gets one
``tellusonce.account.closed.v1``, whose data is a pseudonymous id of the account and the
references of the reports it was sent (``account_closed_data``), and nothing else.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any

from cloudevents.core.exceptions import BaseCloudEventException
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from tellusonce.domain.changetypes import get_change_type, schema_address
from tellusonce.models.outbox import NotificationKind

CONTENT_TYPE = JSONFormat.CONTENT_TYPE  # application/cloudevents+json
DATA_CONTENT_TYPE = "application/json"
PING_TYPE = "tellusonce.ping.v1"
ACCOUNT_CLOSED_TYPE = "tellusonce.account.closed.v1"
# Pseudonymous account ids: one per account and organisation, so two organisations cannot match
# theirs, and none can be turned back into the account (the account's own id is never sent).
_ACCOUNT_IDS = uuid.UUID("0b1f4e4c-6d1a-5c55-9a57-7b0d2c3e9f10")
_FORMAT = JSONFormat()
# allow_nan=False, and no default: what JSON cannot hold is refused, never quietly str()'d.
# One encoder for every event: json.dumps with an argument builds a new one each call.
_ENCODER = json.JSONEncoder(allow_nan=False)
_string = json.encoder.encode_basestring_ascii  # a str as json.dumps writes it (in C)


# The word each kind of notification adds to its event's type and schema ("" for the change itself).
EVENT_WORDS: dict[str, str] = {
    NotificationKind.CHANGE: "",
    NotificationKind.CANCELLATION: "cancelled",
    NotificationKind.CORRECTION: "corrected",
    NotificationKind.ACCOUNT_CLOSED: "account.closed",  # not about one change: ``event_type_and_schema``
}


class EventError(ValueError):
    """The notification cannot be turned into an event (a payload that cannot be serialised)."""


def event_word(kind: str) -> str:
    """The word a kind of notification adds to its event's type; ``EventError`` for an unknown kind."""
    try:
        return EVENT_WORDS[kind]
    except KeyError:
        raise EventError(f"no event for a notification of kind {kind!r}") from None


def event_type_and_schema(change_type: str, source: str, kind: str = NotificationKind.CHANGE) -> tuple[str, str]:
    """An event's ``type`` and ``dataschema``: of the change type (and what became of it), or, for
    an account closed, the one type that is about no change in particular."""
    word = event_word(kind)
    if kind == NotificationKind.ACCOUNT_CLOSED:
        return ACCOUNT_CLOSED_TYPE, account_closed_schema_url(source)
    change = get_change_type(change_type)
    return change.follow_up_event_type(word), change.event_schema_url(source, word)


def account_closed_schema_url(base_url: str) -> str:
    return schema_address(base_url, "events/account.closed.v1.json")


def pseudonymous_account_id(citizen_id: uuid.UUID, department_id: str) -> str:
    """The id an organisation is given for an account it was told about, when the account closes."""
    return str(uuid.uuid5(_ACCOUNT_IDS, f"{citizen_id}:{department_id}"))


def account_closed_data(*, citizen_id: uuid.UUID, department_id: str,
                        report_references: list[str]) -> dict[str, Any]:
    """What an account-closed event's data holds besides the consent receipt id: the account's
    pseudonymous id for this organisation and the references of the reports it was sent (which it
    has already), nothing personal."""
    return {"account_id": pseudonymous_account_id(citizen_id, department_id),
            "report_references": sorted(report_references)}


def cancellation_data(*, original_id: uuid.UUID, report_reference: str) -> dict[str, str]:
    """What a cancellation event's data holds besides the consent receipt id: identifiers only,
    nothing the organisation was not sent already (so nothing personal at all)."""
    return {"original_notification_id": str(original_id), "report_reference": report_reference}


def correction_data(*, original_id: uuid.UUID, report_reference: str,
                    corrected: Mapping[str, Any]) -> dict[str, Any]:
    """What a correction event's data holds besides the consent receipt id: the fields of the
    organisation's view that changed, with their new values (None: no longer given), and the
    identifiers of the notification corrected and of the report."""
    return {**corrected, **cancellation_data(original_id=original_id, report_reference=report_reference)}


def build_event(
    *,
    notification_id: uuid.UUID | str,
    change_type: str,
    report_reference: str,
    payload: Mapping[str, Any] | str,
    consent_receipt_id: uuid.UUID | str,
    created_at: datetime,
    source: str,
    kind: str = NotificationKind.CHANGE,
) -> bytes:
    """The event's JSON body. Raises ``EventError`` when it cannot be built.

    ``kind`` is the notification's (a ``NotificationKind``): it picks the event's type and
    ``dataschema``; the data is the payload either way.

    ``payload`` is the answers the department may see, or their JSON text as the
    notification's payload column holds it (what ``json.dumps`` wrote): the worker
    passes the text, which is spliced into the event as it is rather than decoded
    and encoded again (the same bytes either way).

    The SDK checks the attributes that are the same for every event of a change
    type once, and their JSON is written once too (``_envelope``); each event then
    costs the JSON of its own id, subject and time, and its data's. The bytes are
    those the SDK's ``JSONFormat.write`` writes (tests hold all three together).
    The worker builds one for every delivery, so nothing is checked or written twice.
    """
    try:
        middle, tail = _envelope(change_type, source, str(kind))
        if not isinstance(report_reference, str) or not report_reference or created_at.tzinfo is None:
            raise ValueError("the subject must be a non-empty string and the time timezone aware")
        receipt = str(consent_receipt_id)
        data = _spliced(payload, receipt) if isinstance(payload, str) else None
        if data is None:
            answers = dict(json.loads(payload) if isinstance(payload, str) else payload)
            answers["consent_receipt_id"] = receipt
            data = _ENCODER.encode(answers)
        time = created_at.isoformat()
        if time.endswith("+00:00"):
            time = time[:-6] + "Z"
        return "".join(('{"id": ', _string(str(notification_id)), middle, _string(report_reference),
                        ', "time": ', _string(time), tail, data, "}")).encode()
    except (TypeError, ValueError, LookupError, AttributeError, BaseCloudEventException) as e:
        raise EventError(f"cannot build the event for notification {notification_id}: {e}") from e


def _spliced(payload: str, receipt: str) -> str | None:
    """The event's data from a stored payload's JSON text, with the receipt id added as its last
    member, without decoding it; None where the text must be decoded after all: not an object
    as ``json.dumps`` writes one, already naming a receipt, or perhaps holding NaN or Infinity
    (which ``json.dumps`` writes and an event may not hold)."""
    if (not payload.startswith("{") or not payload.endswith("}") or '"consent_receipt_id"' in payload
            or "NaN" in payload or "Infinity" in payload):
        return None
    member = '"consent_receipt_id": ' + _string(receipt)
    return "{" + member + "}" if payload == "{}" else f"{payload[:-1]}, {member}}}"


@lru_cache(maxsize=64)
def _envelope(change_type: str, source: str, kind: str = NotificationKind.CHANGE) -> tuple[str, str]:
    """The JSON of the attributes every event of a change type (and kind) from this source shares,
    checked by the SDK: the members between "id" and "subject", and those after "time", up to "data"."""
    event_type, dataschema = event_type_and_schema(change_type, source, kind)
    CloudEvent({"id": "check", "source": source, "type": event_type, "subject": "check",
                "datacontenttype": DATA_CONTENT_TYPE, "dataschema": dataschema}, {})
    middle = f', "source": {_string(source)}, "type": {_string(event_type)}, "subject": '
    tail = (f', "datacontenttype": {_string(DATA_CONTENT_TYPE)}, "dataschema": {_string(dataschema)},'
            ' "specversion": "1.0", "data": ')
    return middle, tail


def build_ping(*, event_id: str, department_id: str, source: str, at: datetime) -> bytes:
    """A test event for ``tellusonce departments ping``: signed like any other, no personal data."""
    event = CloudEvent(
        {"id": event_id, "source": source, "type": PING_TYPE, "subject": department_id, "time": at,
         "datacontenttype": DATA_CONTENT_TYPE},
        {"message": "A test event from Tell us once. No action is needed."},
    )
    return _FORMAT.write(event)


def parse_event(body: bytes) -> CloudEvent:
    """Read a structured-mode event (used by the example receiver and the tests)."""
    try:
        event = _FORMAT.read(None, body)
    except (ValueError, KeyError, BaseCloudEventException) as e:
        raise EventError(f"not a CloudEvents 1.0 structured JSON event: {e}") from e
    if not isinstance(event, CloudEvent):
        raise EventError("not a CloudEvents 1.0 event")
    return event
