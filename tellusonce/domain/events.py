"""The wire format of a notification: a CloudEvents 1.0 event in structured JSON.

The same event is the webhook body, the email attachment and what the department
API returns, so it lives here, where the worker and the API can both build it.

The event is built with the ``cloudevents`` SDK, which checks every attribute
against the specification. The body is the same bytes on every retry: ``id`` is
the notification id and ``time`` is when the notification was made, so a
department that de-duplicates by id or by body sees one event.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from cloudevents.core.exceptions import BaseCloudEventException
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from tellusonce.domain.changetypes import get_change_type

CONTENT_TYPE = JSONFormat.CONTENT_TYPE  # application/cloudevents+json
DATA_CONTENT_TYPE = "application/json"
PING_TYPE = "tellusonce.ping.v1"
_FORMAT = JSONFormat()


class EventError(ValueError):
    """The notification cannot be turned into an event (a payload that cannot be serialised)."""


def build_event(
    *,
    notification_id: uuid.UUID | str,
    change_type: str,
    report_reference: str,
    payload: Mapping[str, Any],
    consent_receipt_id: uuid.UUID | str,
    created_at: datetime,
    source: str,
) -> bytes:
    """The event's JSON body. Raises ``EventError`` when it cannot be built."""
    try:
        kind = get_change_type(change_type)
        data = dict(payload)
        data["consent_receipt_id"] = str(consent_receipt_id)
        # Serialise the data on its own first: the SDK would quietly str() what JSON cannot hold.
        json.dumps(data, allow_nan=False)
        event = CloudEvent(
            {
                "id": str(notification_id),
                "source": source,
                "type": kind.event_type,
                "subject": report_reference,
                "time": created_at,
                "datacontenttype": DATA_CONTENT_TYPE,
                "dataschema": kind.schema_url,
            },
            data,
        )
        return _FORMAT.write(event)
    except (TypeError, ValueError, LookupError, BaseCloudEventException) as e:
        raise EventError(f"cannot build the event for notification {notification_id}: {e}") from e


def build_ping(*, event_id: str, department_id: str, source: str, at: datetime) -> bytes:
    """A test event for ``tellusonce departments ping``: signed like any other, no personal data."""
    event = CloudEvent(
        {"id": event_id, "source": source, "type": PING_TYPE, "subject": department_id, "time": at,
         "datacontenttype": DATA_CONTENT_TYPE},
        {"message": "A test event from Tell us once. No action is needed."},
    )
    return _FORMAT.write(event)


def parse_event(body: bytes) -> CloudEvent:
    """Read a structured-mode event (used by the reference receiver and the tests)."""
    try:
        event = _FORMAT.read(None, body)
    except (ValueError, KeyError, BaseCloudEventException) as e:
        raise EventError(f"not a CloudEvents 1.0 structured JSON event: {e}") from e
    if not isinstance(event, CloudEvent):
        raise EventError("not a CloudEvents 1.0 event")
    return event
