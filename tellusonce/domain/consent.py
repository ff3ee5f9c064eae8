"""Who may be told what: the consent decision and the consent receipt.

Both are pure functions of plain values, so the rule can be read in one place and
tested over any sequence of grants, withdrawals and expiries. The default is no.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from tellusonce.domain.changetypes import get_change_type
from tellusonce.i18n import N_

RECEIPT_VERSION = "KI-CR-v1.1.0"
RECEIPT_SCHEMA = "https://tellusonce.example/schemas/consent-receipt.v1.json"


class DepartmentLike(Protocol):
    id: str
    active: bool
    receives: dict[str, list[str]]
    needs_protected_address: bool


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


def minimise(data: Mapping[str, Any], fields: Sequence[str], *, protected_address: bool) -> dict[str, Any]:
    """Only the fields a department may have; it is always told when an address is protected."""
    payload = {name: data[name] for name in fields if name in data}
    if protected_address:
        payload["protected_address"] = True
    return payload


@dataclass(frozen=True)
class ReceiptParty:
    id: str
    name: str
    controller: str
    purpose: str
    contact_url: str | None
    receives: Mapping[str, Sequence[str]]


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
) -> dict[str, Any]:
    """A consent receipt with the Kantara Consent Receipt / ISO/IEC TS 27560 fields."""
    categories = sorted(
        {get_change_type(t).field(f).label for t in change_types for f in recipient.receives.get(t, ())}
    )
    return {
        "version": RECEIPT_VERSION,
        "schema": RECEIPT_SCHEMA,
        "receiptId": str(receipt_id),
        "event": event,
        "timestamp": at.isoformat(),
        "jurisdiction": "GB",
        "language": "en",
        "piiPrincipalId": str(citizen_id),
        "dataController": {"name": "Tell us once", "role": "the service that passes your change on"},
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
            "description": "until withdrawn" if expires_at is None else "until the date given or withdrawn",
        }
        if scope == "standing"
        else {"until": None, "description": "this report only"},
        "howToWithdraw": f"Sign in to Tell us once, go to 'Your consents' and choose 'Withdraw' next to {recipient.name}.",
        "legalBasis": "consent (UK GDPR Article 6(1)(a))",
        "thirdPartyDisclosure": True,
    }
