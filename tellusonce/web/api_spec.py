"""The OpenAPI 3.1 document of the department API, served at /api/v1/openapi.json."""

from __future__ import annotations

from typing import Any

from tellusonce.domain.changetypes import CHANGE_TYPES
from tellusonce.domain.consent import receipt_schema_url
from tellusonce.domain.events import ACCOUNT_CLOSED_TYPE, account_closed_schema_url
from tellusonce.models import NotificationKind

STATES = ["pending", "delivering", "retrying", "delivered", "acknowledged", "dead"]
UUID = {"type": "string", "format": "uuid"}
TIME = {"type": "string", "format": "date-time"}


def _error_response(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _dataschema_description(base_url: str) -> str:
    lines = [
        "The JSON Schema (draft 2020-12) of `data`: the event data schema of the change type, which lists the "
        f"fields organisations are sent. All schemas are listed at {base_url}/schemas/. The change schemas "
        "describe a whole change as a citizen submits it; no organisation is sent all of it.",
        "",
    ]
    for t in CHANGE_TYPES.values():
        lines.append(f"- `{t.event_type}`: data {t.event_schema_url(base_url)}, change {t.schema_url(base_url)}")
        for word in ("cancelled", "corrected"):
            lines.append(f"- `{t.follow_up_event_type(word)}`: data {t.event_schema_url(base_url, word)}")
    lines.append(f"- `{ACCOUNT_CLOSED_TYPE}`: data {account_closed_schema_url(base_url)}")
    return "\n".join(lines)


def openapi_document(base_url: str) -> dict[str, Any]:
    unauthorised = {"$ref": "#/components/responses/Unauthorised"}
    not_found = {"$ref": "#/components/responses/NotFound"}
    notification_id = {"name": "notification_id", "in": "path", "required": True,
                       "description": "The notification id (also the CloudEvent id and the webhook-id).",
                       "schema": UUID}
    one = {"description": "The notification.",
           "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Notification"}}}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Tell us once: department API",
            "version": "1.0.0",
            "description": (
                "Read the notifications sent to your organisation and acknowledge them. Every call needs "
                "your API key (`tellusonce departments key <your id>` makes one) as a bearer token. You only "
                "ever see your own notifications. For a feed organisation a notification counts as delivered "
                "the first time you fetch it; acknowledging tells the citizen you have received it."
            ),
        },
        "servers": [{"url": f"{base_url}/api/v1"}],
        "security": [{"bearer": []}],
        "paths": {
            "/notifications": {
                "get": {
                    "operationId": "listNotifications",
                    "summary": "Your notifications, oldest first, a page at a time",
                    "parameters": [
                        {"name": "after", "in": "query", "required": False, "schema": UUID,
                         "description": "The next_cursor of the previous page: continue after this notification."},
                        {"name": "limit", "in": "query", "required": False,
                         "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 100}},
                    ],
                    "responses": {
                        "200": {"description": "A page of notifications.",
                                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Page"}}}},
                        "400": _error_response("The limit or cursor is not usable."),
                        "401": unauthorised,
                        "404": _error_response("None of your notifications has the id given as `after`."),
                    },
                },
            },
            "/notifications/{notification_id}": {
                "get": {
                    "operationId": "getNotification",
                    "summary": "One of your notifications",
                    "parameters": [notification_id],
                    "responses": {"200": one, "401": unauthorised, "404": not_found},
                },
            },
            "/notifications/{notification_id}/ack": {
                "post": {
                    "operationId": "acknowledgeNotification",
                    "summary": "Say you have received a notification (safe to repeat)",
                    "parameters": [notification_id],
                    "responses": {"200": one, "401": unauthorised, "404": not_found},
                },
            },
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "A department API key, tuo_…"}},
            "responses": {
                "Unauthorised": {
                    **_error_response("No API key, one not recognised, or one revoked: the error says which."),
                    "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}},
                },
                "NotFound": _error_response("None of your notifications has this id."),
            },
            "schemas": {
                "Error": {
                    "type": "object", "required": ["status", "error"],
                    "properties": {"status": {"type": "integer"}, "error": {"type": "string"}},
                },
                "Page": {
                    "type": "object", "required": ["notifications", "next_cursor", "has_more"],
                    "properties": {
                        "notifications": {"type": "array", "items": {"$ref": "#/components/schemas/Notification"}},
                        "next_cursor": {"type": ["string", "null"], "format": "uuid",
                                        "description": "Pass as `after` to continue; poll with it for new ones."},
                        "has_more": {"type": "boolean"},
                    },
                },
                "Notification": {
                    "type": "object",
                    "required": ["id", "kind", "original_id", "change_type", "report_reference", "state", "created_at",
                                 "delivered_at", "acknowledged_at", "consent_receipt_id", "ack_url", "event"],
                    "properties": {
                        "id": UUID,
                        "kind": {"type": "string", "enum": [k.value for k in NotificationKind],
                                 "description": "change: the change itself; cancellation: the citizen cancelled the "
                                                "report original_id told you of; correction: the citizen corrected "
                                                "it, and data holds only the fields you receive that changed (each "
                                                "always listed after original_id)."},
                        "original_id": {"type": ["string", "null"], "format": "uuid",
                                        "description": "For a cancellation or a correction, the notification it "
                                                       "cancels or corrects; else null."},
                        "change_type": {"type": "string", "enum": ["address", "name", "contact", "death", "birth"]},
                        "report_reference": {"type": "string"},
                        "state": {"type": "string", "enum": STATES},
                        "created_at": TIME,
                        "delivered_at": {"type": ["string", "null"], "format": "date-time"},
                        "acknowledged_at": {"type": ["string", "null"], "format": "date-time"},
                        "consent_receipt_id": UUID,
                        "ack_url": {"type": "string"},
                        "event": {"$ref": "#/components/schemas/CloudEvent"},
                    },
                },
                "CloudEvent": {
                    "type": "object",
                    "description": "The same CloudEvents 1.0 event a webhook receives and an email carries. "
                                   "`data` holds only the fields your organisation receives and "
                                   "consent_receipt_id, and follows the event data schema `dataschema` names.",
                    "required": ["specversion", "id", "source", "type", "subject", "time", "datacontenttype",
                                 "dataschema", "data"],
                    "properties": {
                        "specversion": {"const": "1.0"},
                        "id": UUID,
                        "source": {"type": "string"},
                        "type": {"type": "string", "pattern": r"^tellusonce\.change\.[a-z]+(\.cancelled|\.corrected)?\.v1$"},
                        "subject": {"type": "string"},
                        "time": TIME,
                        "datacontenttype": {"const": "application/json"},
                        "dataschema": {
                            "type": "string", "format": "uri",
                            "enum": [t.event_schema_url(base_url, word) for t in CHANGE_TYPES.values()
                                     for word in ("", "cancelled", "corrected")],
                            "description": _dataschema_description(base_url),
                        },
                        "data": {"type": "object", "required": ["consent_receipt_id"],
                                 "properties": {"consent_receipt_id": {
                                     **UUID, "description": "The consent receipt it was sent under; receipts "
                                                            f"follow {receipt_schema_url(base_url)}."}}},
                    },
                },
            },
        },
    }
