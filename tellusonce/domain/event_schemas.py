"""The schema of what a department is sent: one per change type, named by each event's ``dataschema``.

A change schema (``ChangeType.json_schema``) describes a whole change as a citizen
submits it. An event carries a cut of it: only the fields that department may have
(``tellusonce.domain.consent.fields_for`` and ``minimise``), only the answers that
were given, ``protected_address`` when the address is protected, and the id of the
consent receipt it was sent under. Its schema follows from the registry:

- properties: every field some department receives, typed as in the change schema,
  ``protected_address`` where a change can have its address protected, and
  ``consent_receipt_id``;
- required: a field the citizen must always give that every department told of this
  change receives, and is never withheld from it by a protected address; and
  ``consent_receipt_id``;
- an "at least one of" group of the change schema, where every department receives
  every field of the group;
- no other properties.

So every event validates against it, and it is as strict as that allows.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tellusonce.domain.changetypes import JSON_SCHEMA_DIALECT, ChangeType
from tellusonce.domain.consent import DepartmentLike, fields_for
from tellusonce.domain.events import ACCOUNT_CLOSED_TYPE, account_closed_schema_url

CONSENT_RECEIPT_ID = {
    "type": "string",
    "format": "uuid",
    "title": "Consent receipt id",
    "description": "The consent receipt this was sent under (its receiptId); the citizen holds the same receipt.",
}
LANGUAGE = {
    "enum": ["cy", "en"],
    "title": "The language to write in",
    "description": "The language the person wants to be written to in: cy (Welsh) or en (English). "
                   "Sent only to organisations the registry grants it to.",
}
PROTECTED_ADDRESS = {
    "type": "boolean",
    "title": "The address is protected",
    "description": "True when the person has asked for their address to be protected: do not disclose it. "
                   "Organisations that do not need the address are told this and are not given it.",
}


def recipients_of(change_type: ChangeType, departments: Iterable[DepartmentLike]) -> list[DepartmentLike]:
    """The departments that can be told of this kind of change."""
    return [d for d in departments if d.active and change_type.id in d.receives]


def event_data_schema(change_type: ChangeType, departments: Iterable[DepartmentLike], *,
                      base_url: str) -> dict[str, Any]:
    """The JSON Schema of an event's ``data`` for this change type, as ``departments`` receive it."""
    recipients = recipients_of(change_type, departments)
    received = {name for d in recipients for name in d.receives[change_type.id]}
    # What each is given whatever the citizen answers (a protected address is withheld from some).
    given = [set(fields_for(d, change_type.id, protected_address=change_type.can_protect_address)[0])
             for d in recipients]
    always = {f.name for f in change_type.fields if f.required}.intersection(received, *given)
    change = change_type.json_schema()
    properties = {name: change["properties"][name] for name in change_type.field_names if name in received}
    if change_type.can_protect_address:
        properties["protected_address"] = PROTECTED_ADDRESS
    told_language = [d for d in recipients if d.receives_language]
    if told_language:
        properties["language"] = LANGUAGE
    properties["consent_receipt_id"] = CONSENT_RECEIPT_ID
    language_always = bool(recipients) and len(told_language) == len(recipients)
    schema: dict[str, Any] = {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": change_type.event_schema_url(base_url),
        "title": f"{change_type.label}: what an organisation is sent",
        "description": (
            f"The data of a {change_type.event_type} event. Each organisation receives only the fields it is "
            "registered for, and only those the citizen gave; consent_receipt_id is always there. "
            f"The whole change as a citizen submits it is {change_type.schema_url(base_url)}."
        ),
        "type": "object",
        "properties": properties,
        "required": [name for name in change_type.field_names if name in always]
                    + (["language"] if language_always else []) + ["consent_receipt_id"],
        "additionalProperties": False,
    }
    groups = [group for group in change_type.any_of if recipients and all(set(group) <= kept for kept in given)]
    if groups:
        schema["allOf"] = [{"anyOf": [{"required": [name]} for name in group]} for group in groups]
    return schema


_ORIGINAL = {
    "type": "string", "format": "uuid", "title": "The notification this is about",
    "description": "The id of the event this follows (its CloudEvent id and webhook-id).",
}
_REFERENCE = {
    "type": "string", "title": "The report's reference",
    "description": "The reference of the report: the subject of both events.",
}


def correction_data_schema(change_type: ChangeType, departments: Iterable[DepartmentLike], *,
                           base_url: str) -> dict[str, Any]:
    """The JSON Schema of a correction event's data (``tellusonce.change.<type>.corrected.v1``): the
    fields of the organisation's view that changed, each with its new value or null (no longer
    given), and the identifiers of the original notification, the report and the consent receipt."""
    recipients = recipients_of(change_type, departments)
    received = {name for d in recipients for name in d.receives[change_type.id]}
    change = change_type.json_schema()
    properties: dict[str, Any] = {
        name: {"anyOf": [change["properties"][name], {"type": "null"}], "title": change_type.field(name).label,
               "description": "The corrected answer; null when it is no longer given (taken out, or withheld "
                              "now that the address is protected)."}
        for name in change_type.field_names if name in received}
    if change_type.can_protect_address:
        properties["protected_address"] = {
            **PROTECTED_ADDRESS,
            "description": "Present when it changed: true, the address is now protected (do not disclose it); "
                           "false, it no longer is.",
        }
    properties |= {"original_notification_id": {**_ORIGINAL, "title": "The notification corrected",
                                                "description": "The id of the event this corrects (its "
                                                               "CloudEvent id and webhook-id)."},
                   "report_reference": _REFERENCE, "consent_receipt_id": CONSENT_RECEIPT_ID}
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": change_type.event_schema_url(base_url, "corrected"),
        "title": f"{change_type.label}: corrected",
        "description": (
            f"The data of a {change_type.follow_up_event_type('corrected')} event: the citizen corrected the "
            f"report that the {change_type.event_type} event original_notification_id told you of. It holds only "
            "the fields you receive whose answers changed, each with its new value (null: no longer given); "
            "every other detail stands as first sent. It is sent under the same consent receipt, and always "
            "delivered after the event it names."
        ),
        "type": "object",
        "properties": properties,
        "required": ["original_notification_id", "report_reference", "consent_receipt_id"],
        "minProperties": 4,
        "additionalProperties": False,
    }


def cancellation_data_schema(change_type: ChangeType, *, base_url: str) -> dict[str, Any]:
    """The JSON Schema of a cancellation event's ``data`` (``tellusonce.change.<type>.cancelled.v1``):
    identifiers only, every one required."""
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": change_type.event_schema_url(base_url, "cancelled"),
        "title": f"{change_type.label}: cancelled",
        "description": (
            f"The data of a {change_type.follow_up_event_type('cancelled')} event: the citizen cancelled the "
            f"report that the {change_type.event_type} event original_notification_id told you of. Act as if "
            "that change had not been reported. It carries identifiers only, and is always delivered after the "
            "event it names."
        ),
        "type": "object",
        "properties": {
            "original_notification_id": {
                "type": "string", "format": "uuid", "title": "The notification cancelled",
                "description": "The id of the event this cancels (its CloudEvent id and webhook-id).",
            },
            "report_reference": {
                "type": "string", "title": "The report's reference",
                "description": "The reference of the report cancelled: the subject of both events.",
            },
            "consent_receipt_id": CONSENT_RECEIPT_ID,
        },
        "required": ["original_notification_id", "report_reference", "consent_receipt_id"],
        "additionalProperties": False,
    }


def account_closed_data_schema(*, base_url: str) -> dict[str, Any]:
    """The JSON Schema of an account-closed event's ``data`` (``tellusonce.account.closed.v1``):
    identifiers only, every one required."""
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": account_closed_schema_url(base_url),
        "title": "An account closed",
        "description": (
            f"The data of a {ACCOUNT_CLOSED_TYPE} event: the citizen whose reports you were sent has closed their "
            "account with Tell us once and asked for you to be told (UK GDPR Art. 19). It names the reports you "
            "were sent; what you do with your own records of them is for your own retention rules. Sent only if "
            "the citizen asked, once, after every earlier event to you about those reports."
        ),
        "type": "object",
        "properties": {
            "account_id": {
                "type": "string", "format": "uuid", "title": "The account, pseudonymously",
                "description": "An id for the account, the same in every event to you about it and different for "
                               "every organisation; it cannot be turned back into the account.",
            },
            "report_references": {
                "type": "array", "items": {"type": "string"}, "minItems": 1, "uniqueItems": True,
                "title": "The reports you were sent",
                "description": "The references (each the subject of the events you were sent) of every report "
                               "of the account that you were sent.",
            },
            "consent_receipt_id": CONSENT_RECEIPT_ID,
        },
        "required": ["account_id", "report_references", "consent_receipt_id"],
        "additionalProperties": False,
    }
