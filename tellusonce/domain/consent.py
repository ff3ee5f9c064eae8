"""Who may be told what: the consent decision and the consent receipt.

Both are pure functions of plain values, so the rule can be read in one place and
tested over any sequence of grants, withdrawals and expiries. The default is no.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from tellusonce.domain.changetypes import CHANGE_TYPES, JSON_SCHEMA_DIALECT, get_change_type, schema_address
from tellusonce.i18n import N_

RECEIPT_VERSION = "KI-CR-v1.1.0"
RECEIPT_SCHEMA_NAME = "consent-receipt.v1.json"
RECEIPT_EVENTS = ("granted", "withdrawn")
RECEIPT_SCOPES = ("standing", "one_off")


class DepartmentLike(Protocol):
    id: str
    active: bool
    receives: dict[str, list[str]]
    needs_protected_address: bool
    receives_language: bool


@dataclass(frozen=True)
class GrantView:
    """What the decision needs to know about one grant."""

    id: uuid.UUID
    department_id: str
    scope: str  # "standing" | "one_off"
    change_types: frozenset[str]
    granted_at: datetime
    receipt_id: uuid.UUID
    report_id: uuid.UUID | None = None
    expires_at: datetime | None = None
    withdrawn_at: datetime | None = None

    def in_force(self, now: datetime) -> bool:
        if self.granted_at > now:
            return False
        if self.withdrawn_at is not None and self.withdrawn_at <= now:
            return False
        return self.expires_at is None or self.expires_at > now

    def covers(self, department_id: str, change_type: str, report_id: uuid.UUID | None) -> bool:
        if self.department_id != department_id or change_type not in self.change_types:
            return False
        return self.scope == "standing" or (report_id is not None and self.report_id == report_id)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str  # one of the REASONS keys
    fields: tuple[str, ...] = ()
    withheld: tuple[str, ...] = ()
    grant_id: uuid.UUID | None = None
    receipt_id: uuid.UUID | None = None


REASONS = {
    "standing": N_("You have said they may always be told about this kind of change."),
    "one_off": N_("You have said they may be told this time."),
    "no_consent": N_("You have not said they may be told."),
    "not_handled": N_("They do not deal with this kind of change."),
}


def fields_for(department: DepartmentLike, change_type: str, *, protected_address: bool) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(fields it receives, fields withheld). A protected address goes only where it is needed."""
    wanted = tuple(department.receives.get(change_type, ()))
    if not protected_address or department.needs_protected_address:
        return wanted, ()
    address = get_change_type(change_type).address_fields
    return tuple(f for f in wanted if f not in address), tuple(f for f in wanted if f in address)


def decide(
    grants: Iterable[GrantView],
    department: DepartmentLike,
    change_type: str,
    *,
    now: datetime,
    report_id: uuid.UUID | None = None,
    protected_address: bool = False,
) -> Decision:
    """May ``department`` receive ``change_type`` about this citizen at ``now``, and which fields?

    ``grants`` are the citizen's grants (any department). The newest grant in force
    that covers the department and change type (a one-off one only for its report)
    decides; with none, the answer is no.
    """
    if not department.active or change_type not in department.receives:
        return Decision(False, "not_handled")
    covering = [
        g for g in grants if g.in_force(now) and g.covers(department.id, change_type, report_id)
    ]
    if not covering:
        return Decision(False, "no_consent")
    grant = max(covering, key=lambda g: (g.granted_at, g.scope == "one_off"))
    fields, withheld = fields_for(department, change_type, protected_address=protected_address)
    return Decision(True, grant.scope, fields, withheld, grant.id, grant.receipt_id)


def minimise(data: Mapping[str, Any], fields: Sequence[str], *, protected_address: bool,
             language: str | None = None) -> dict[str, Any]:
    """Only the fields a department may have; it is always told when an address is protected.
    ``language`` (the citizen's, given only where the registry grants it) is added as ``language``."""
    payload = {name: data[name] for name in fields if name in data}
    if protected_address:
        payload["protected_address"] = True
    if language is not None:
        payload["language"] = language
    return payload


@dataclass(frozen=True)
class ReceiptParty:
    id: str
    name: str
    controller: str
    purpose: str
    contact_url: str | None
    receives: Mapping[str, Sequence[str]]


# The receipt's words for people, translated into the citizen's language when it is built.
RECEIPT_CONTROLLER = N_("Tell us once")
RECEIPT_ROLE = N_("the service that passes your change on")
RECEIPT_UNTIL_WITHDRAWN = N_("until withdrawn")
RECEIPT_UNTIL_DATE = N_("until the date given or withdrawn")
RECEIPT_THIS_REPORT = N_("this report only")
RECEIPT_HOW_TO_WITHDRAW = N_("Sign in to Tell us once, go to 'Your consents' and choose 'Withdraw' next to %(name)s.")


def _as_written(message: str) -> str:
    return message


def build_receipt(
    *,
    receipt_id: uuid.UUID,
    event: str,
    at: datetime,
    citizen_id: uuid.UUID,
    recipient: ReceiptParty,
    change_types: Sequence[str],
    scope: str,
    expires_at: datetime | None,
    report_reference: str | None,
    language: str = "en",
    gettext: Callable[[str], str] = _as_written,
) -> dict[str, Any]:
    """A consent receipt with the Kantara Consent Receipt / ISO/IEC TS 27560 fields, as stored.

    Its words for people (the controller's name and role, the recipient's name and purpose, the
    data categories, the duration's description, how to withdraw) are in ``language``, through
    ``gettext`` (the caller's catalogue for it), with ``recipient`` named and described in it
    already; its machine fields (ids, codes, dates, change types, scope) are the same in any.

    The citizen downloads it as ``published_receipt`` makes it: naming its schema at the
    service's address, which is not the receipt's to keep (the address can move).
    """
    categories = sorted(
        {gettext(get_change_type(t).field(f).label) for t in change_types for f in recipient.receives.get(t, ())}
    )
    return {
        "version": RECEIPT_VERSION,
        "receiptId": str(receipt_id),
        "event": event,
        "timestamp": at.isoformat(),
        "jurisdiction": "GB",
        "language": language,
        "piiPrincipalId": str(citizen_id),
        "dataController": {"name": gettext(RECEIPT_CONTROLLER), "role": gettext(RECEIPT_ROLE)},
        "recipient": {
            "id": recipient.id,
            "name": recipient.name,
            "controller": recipient.controller,
            "url": recipient.contact_url,
        },
        "purpose": recipient.purpose,
        "changeTypes": list(change_types),
        "dataCategories": categories,
        "scope": scope,
        "reportReference": report_reference,
        "duration": {
            "until": expires_at.isoformat() if expires_at else None,
            "description": gettext(RECEIPT_UNTIL_WITHDRAWN if expires_at is None else RECEIPT_UNTIL_DATE),
        }
        if scope == "standing"
        else {"until": None, "description": gettext(RECEIPT_THIS_REPORT)},
        "howToWithdraw": gettext(RECEIPT_HOW_TO_WITHDRAW) % {"name": recipient.name},
        "legalBasis": "consent (UK GDPR Article 6(1)(a))",
        "thirdPartyDisclosure": True,
    }


def receipt_schema_url(base_url: str) -> str:
    return schema_address(base_url, RECEIPT_SCHEMA_NAME)


def published_receipt(receipt: Mapping[str, Any], *, base_url: str) -> dict[str, Any]:
    """A stored receipt as the citizen downloads it, its ``schema`` (after ``version``) the receipt
    schema published at ``base_url``. Receipts stored before this named an address that did not exist."""
    published: dict[str, Any] = {}
    for key, value in receipt.items():
        if key != "schema":
            published[key] = value
        if key == "version":
            published["schema"] = receipt_schema_url(base_url)
    return published


def receipt_json_schema(base_url: str) -> dict[str, Any]:
    """The JSON Schema of a receipt as ``published_receipt`` gives it."""
    text = {"type": "string", "minLength": 1}
    uuid_ = {"type": "string", "format": "uuid"}
    when = {"type": "string", "format": "date-time"}

    def record(properties: dict[str, Any]) -> dict[str, Any]:
        return {"type": "object", "properties": properties, "required": list(properties),
                "additionalProperties": False}

    schema = record({
        "version": {"const": RECEIPT_VERSION, "description": "The Kantara Consent Receipt version it follows."},
        "schema": {"type": "string", "format": "uri", "description": "This schema's address."},
        "receiptId": {**uuid_, "description": "The receipt's id: the consent_receipt_id of what is sent under it."},
        "event": {"enum": list(RECEIPT_EVENTS), "description": "Whether consent was given or withdrawn."},
        "timestamp": {**when, "description": "When consent was given or withdrawn."},
        "jurisdiction": {"const": "GB"},
        "language": {"type": "string", "description": "The language of the receipt's text (BCP 47)."},
        "piiPrincipalId": {**uuid_, "description": "The citizen's account id."},
        "dataController": record({"name": text, "role": text}),
        "recipient": record({"id": text, "name": text, "controller": text,
                             "url": {"type": ["string", "null"], "format": "uri"}}),
        "purpose": {**text, "description": "Why the recipient needs the details."},
        "changeTypes": {"type": "array", "items": {"enum": list(CHANGE_TYPES)}, "minItems": 1, "uniqueItems": True},
        "dataCategories": {"type": "array", "items": text, "uniqueItems": True,
                           "description": "The details the recipient may be given, by their names on the forms."},
        "scope": {"enum": list(RECEIPT_SCOPES),
                  "description": "standing: every such change until withdrawn; one_off: the one report only."},
        "reportReference": {"type": ["string", "null"], "description": "The report a one-off consent is for."},
        "duration": record({"until": {"type": ["string", "null"], "format": "date-time"}, "description": text}),
        "howToWithdraw": text,
        "legalBasis": text,
        "thirdPartyDisclosure": {"type": "boolean"},
    })
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": receipt_schema_url(base_url),
        "title": "Tell us once consent receipt",
        "description": "A record of one consent given or withdrawn: who may be told which details, why, for how "
                       "long, and how to withdraw (after the Kantara Consent Receipt v1.1 and ISO/IEC TS 27560).",
        **schema,
    }
