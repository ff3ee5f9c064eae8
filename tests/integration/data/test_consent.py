"""Consent as stored: which receipts are still in force when a worker checks again at dispatch."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from tellusonce.application.consent import withdraw_consent
from tellusonce.application.intake import ChangeRequest, submit_change
from tellusonce.data.consent import receipts_in_force
from tellusonce.data.tracking import consent_history_page
from tellusonce.models import Notification
from tests.factories import NOW, address_answers, make_citizen


def test_consent_is_checked_again_at_dispatch(db_session):
    citizen = make_citizen(db_session)
    submit_change(db_session, citizen, ChangeRequest(
        change_type="address", answers=address_answers(), recipients=["dvla"], consent={"dvla": "always"},
        submission_key="k"), now=NOW)
    receipt = db_session.scalar(select(Notification)).consent_receipt_id
    assert receipts_in_force(db_session, [receipt], now=NOW) == {receipt}
    grant_id = consent_history_page(db_session, citizen.id).items[0].grant_id
    withdraw_consent(db_session, citizen_id=citizen.id, grant_id=grant_id, now=NOW + timedelta(seconds=1))
    assert receipts_in_force(db_session, [receipt], now=NOW + timedelta(seconds=2)) == set()
