"""Delivery receipts: which email a receipt is about, and what it changes there."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from tellusonce.application.mail_receipts import ReceiptInvalid, ReceiptOutcome, read_receipt, record_receipt
from tellusonce.i18n import N_
from tellusonce.mailout.queue import queue_email
from tellusonce.models import OutgoingEmail

NOTIFY_ID = "740e5834-3a29-46b4-9a6f-16142fde533a"
AT = datetime(2026, 12, 2, 17, 15, 30, tzinfo=UTC)
NOW = AT + timedelta(minutes=1)


def email(session: Session, *, provider_id: str | None = NOTIFY_ID) -> OutgoingEmail:
    row = queue_email(session, to="ada@example.org", subject=N_("Confirm your email address"),
                      template="mail_unknown_sender", purpose="test",
                      context={"register_link": "https://t.test/r", "service_address": "changes@t.test"})
    row.provider_id = provider_id
    session.flush()
    return row


def receipt(row: OutgoingEmail | None, status: str = "delivered", *, at: datetime | None = AT,
            notify_id: str = NOTIFY_ID) -> dict[str, object]:
    return {"id": notify_id, "reference": str(row.id) if row else None, "status": status,
            "completed_at": at.isoformat().replace("+00:00", "Z") if at else None, "notification_type": "email"}


def test_a_receipt_is_read_with_its_time_in_utc_and_our_reference():
    read = read_receipt({"id": NOTIFY_ID, "reference": "1f0c3a4e-9b7d-4c2a-8e5f-0a1b2c3d4e5f", "status": "delivered",
                         "completed_at": "2026-12-02T17:15:30.000000Z", "to": "ada@example.org", "extra": 1})
    assert read.completed_at == AT and str(read.reference) == "1f0c3a4e-9b7d-4c2a-8e5f-0a1b2c3d4e5f"
    assert read_receipt({"id": NOTIFY_ID, "reference": "not-ours", "status": "sending"}).reference is None


@pytest.mark.parametrize("payload", [None, [], {"status": "delivered"}, {"id": "x" * 65, "status": "delivered"},
                                     {"id": NOTIFY_ID}, {"id": NOTIFY_ID, "status": "read"},
                                     {"id": NOTIFY_ID, "status": "delivered", "completed_at": 5}])
def test_what_is_not_a_receipt_is_refused(payload):
    with pytest.raises(ReceiptInvalid):
        read_receipt(payload)


def test_a_receipt_records_its_status_and_when_it_was_delivered(db_session):
    row = email(db_session)
    assert record_receipt(db_session, read_receipt(receipt(row)), now=NOW) == ReceiptOutcome.RECORDED
    assert (row.delivery_status, row.delivery_status_at, row.delivered_at) == ("delivered", AT, AT)


def test_a_failure_is_recorded_without_a_delivery_time_and_a_receipt_without_a_time_is_as_of_now(db_session):
    row = email(db_session)
    record_receipt(db_session, read_receipt(receipt(row, "technical-failure", at=None)), now=NOW)
    assert (row.delivery_status, row.delivery_status_at, row.delivered_at) == ("technical-failure", NOW, None)


def test_the_same_receipt_again_changes_nothing_and_an_older_one_is_superseded(db_session):
    row = email(db_session)
    record_receipt(db_session, read_receipt(receipt(row)), now=NOW)
    assert record_receipt(db_session, read_receipt(receipt(row)), now=NOW) == ReceiptOutcome.ALREADY_RECORDED
    older = receipt(row, "temporary-failure", at=AT - timedelta(seconds=1))
    assert record_receipt(db_session, read_receipt(older), now=NOW) == ReceiptOutcome.SUPERSEDED
    assert row.delivery_status == "delivered"


def test_an_email_is_found_by_its_reference_even_before_notifys_id_is_recorded(db_session):
    row = email(db_session, provider_id=None)
    assert record_receipt(db_session, read_receipt(receipt(row)), now=NOW) == ReceiptOutcome.RECORDED
    assert row.provider_id == NOTIFY_ID


def test_an_email_is_found_by_notifys_id_when_the_receipt_has_no_reference(db_session):
    row = email(db_session)
    assert record_receipt(db_session, read_receipt(receipt(None)), now=NOW) == ReceiptOutcome.RECORDED
    assert row.delivery_status == "delivered"


def test_a_receipt_for_a_repeat_send_keeps_the_id_already_recorded(db_session):
    row = email(db_session)
    repeat = receipt(row, notify_id="0d6f1c2e-3b4a-4c5d-8e9f-a0b1c2d3e4f5")
    assert record_receipt(db_session, read_receipt(repeat), now=NOW) == ReceiptOutcome.RECORDED
    assert row.provider_id == NOTIFY_ID and row.delivery_status == "delivered"


def test_a_receipt_for_no_email_of_ours_is_unknown(db_session):
    email(db_session)
    stranger = receipt(None, notify_id="0d6f1c2e-3b4a-4c5d-8e9f-a0b1c2d3e4f5")
    assert record_receipt(db_session, read_receipt(stranger), now=NOW) == ReceiptOutcome.UNKNOWN
