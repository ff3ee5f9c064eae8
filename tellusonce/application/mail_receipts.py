"""Delivery receipts for sent email: GOV.UK Notify calls back to say whether an email arrived.

Notify posts one JSON receipt per email when its delivery ends (``id``, ``reference``, ``to``,
``status``, ``created_at``, ``completed_at``, ``sent_at``, ``notification_type``, and more it may
add). ``read_receipt`` checks one, as anything a stranger sends is checked; ``record_receipt``
writes it on the email it is about, in the caller's transaction. The email is found by the
reference it was sent with (its own id, which exists before Notify is asked, so a receipt that
overtakes the sender's record still finds it), or else by Notify's id. The same receipt twice
changes nothing; an older receipt never overwrites a newer one.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy.orm import Session

from tellusonce.data.mailout import email_for_receipt, record_delivery_status

DELIVERED = "delivered"
# Notify's statuses for an email: final ones in its receipts, and "sending" in some versions of it.
STATUSES = frozenset({DELIVERED, "permanent-failure", "temporary-failure", "technical-failure", "sending"})
PROVIDER_ID_CHARS = 64  # outgoing_email.provider_id


class ReceiptInvalid(ValueError):
    """A receipt that is not one Notify sends: says what is wrong, for the caller's 400."""


class ReceiptOutcome(StrEnum):
    RECORDED = "recorded"
    ALREADY_RECORDED = "already recorded"  # the same receipt again (Notify retries)
    SUPERSEDED = "superseded"  # older than what the email already has
    UNKNOWN = "unknown"  # no email of ours has this reference or id


@dataclass(frozen=True)
class DeliveryReceipt:
    provider_id: str
    reference: uuid.UUID | None  # our email's id, when the receipt carries one of ours
    status: str
    completed_at: datetime | None


def read_receipt(payload: object) -> DeliveryReceipt:
    """A receipt from Notify's JSON, or ReceiptInvalid saying why it is not one."""
    if not isinstance(payload, Mapping):
        raise ReceiptInvalid("a delivery receipt is a JSON object")
    provider_id = payload.get("id")
    if not isinstance(provider_id, str) or not provider_id.strip() or len(provider_id) > PROVIDER_ID_CHARS:
        raise ReceiptInvalid("a delivery receipt needs the notification's id")
    status = payload.get("status")
    if status not in STATUSES:
        raise ReceiptInvalid(f"a delivery receipt's status is one of {', '.join(sorted(STATUSES))}")
    notification_type = payload.get("notification_type", "email")
    if notification_type != "email":
        raise ReceiptInvalid("this service sends only email, so takes only email receipts")
    return DeliveryReceipt(provider_id=provider_id, reference=_our_reference(payload.get("reference")),
                           status=status, completed_at=_timestamp(payload.get("completed_at"), "completed_at"))


def record_receipt(session: Session, receipt: DeliveryReceipt, *, now: datetime) -> ReceiptOutcome:
    """Record ``receipt`` on its email (flushed, not committed); what became of it."""
    email = email_for_receipt(session, reference=receipt.reference, provider_id=receipt.provider_id)
    if email is None:
        return ReceiptOutcome.UNKNOWN
    at = receipt.completed_at or now
    if email.delivery_status == receipt.status and email.delivery_status_at == at:
        return ReceiptOutcome.ALREADY_RECORDED
    if email.delivery_status_at is not None and at < email.delivery_status_at:
        return ReceiptOutcome.SUPERSEDED
    record_delivery_status(session, email, provider_id=receipt.provider_id, status=receipt.status, at=at,
                           delivered=receipt.status == DELIVERED)
    return ReceiptOutcome.RECORDED


def _our_reference(value: object) -> uuid.UUID | None:
    """The email id a receipt's reference names: None for a missing one or one not ours (not a UUID)."""
    if not isinstance(value, str):
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def _timestamp(value: object, name: str) -> datetime | None:
    """Notify's ``2017-05-14T12:15:30.000000Z`` (or null) as an aware UTC datetime."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ReceiptInvalid(f"a delivery receipt's {name} is a time like 2017-05-14T12:15:30.000000Z")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as e:
        raise ReceiptInvalid(f"a delivery receipt's {name} is a time like 2017-05-14T12:15:30.000000Z") from e
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
