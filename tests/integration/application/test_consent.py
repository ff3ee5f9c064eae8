"""Giving and withdrawing consent: append-only events, receipts, and withdrawal cancelling queued work."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from tellusonce.application.consent import ConsentError, grant_consent, withdraw_consent
from tellusonce.application.intake import ChangeRequest, submit_change
from tellusonce.data.consent import get_receipt
from tellusonce.data.departments import get_department
from tellusonce.data.outbox import claim_due
from tellusonce.data.tracking import consent_history_page
from tellusonce.models import ConsentGrant, Notification, NotificationState
from tests.factories import NOW, PLANNED_DAY, address_answers, make_citizen, planned_request, queued_notifications


def test_grant_issues_a_receipt_with_the_kantara_fields(db_session):
    citizen = make_citizen(db_session)
    event = grant_consent(db_session, citizen_id=citizen.id, department=get_department(db_session, "dvla"),
                          change_types=["address"], now=NOW)
    receipt = event.receipt
    for key in ("receiptId", "version", "timestamp", "dataController", "purpose", "dataCategories", "recipient",
                "duration", "howToWithdraw", "piiPrincipalId"):
        assert receipt[key], key
    assert receipt["recipient"]["id"] == "dvla"
    assert "Postcode" in receipt["dataCategories"] and "National Insurance number" not in receipt["dataCategories"]


def test_withdrawal_is_a_new_event_and_cancels_only_undelivered_notifications(db_session):
    citizen = make_citizen(db_session)
    result = submit_change(db_session, citizen, ChangeRequest(
        change_type="address", answers=address_answers(), recipients=["dvla", "hmrc"],
        consent={"dvla": "always", "hmrc": "always"}, submission_key="k"), now=NOW)
    dvla_grant = next(e.grant_id for e in consent_history_page(db_session, citizen.id).items if e.department_id == "dvla")
    hmrc = db_session.scalar(select(Notification).where(Notification.department_id == "hmrc"))
    hmrc.state = NotificationState.DELIVERED
    db_session.flush()
    event, cancelled = withdraw_consent(db_session, citizen_id=citizen.id, grant_id=dvla_grant, now=NOW + timedelta(minutes=1))
    assert event.kind == "withdrawn" and cancelled == 1
    states = {n.department_id: n.state for n in db_session.scalars(select(Notification).where(Notification.report_id == result.report.id))}
    assert states == {"dvla": NotificationState.CANCELLED, "hmrc": NotificationState.DELIVERED}
    history = consent_history_page(db_session, citizen.id).items
    assert [e.kind for e in history if e.department_id == "dvla"] == ["withdrawn", "granted"]


def test_one_citizen_cannot_withdraw_or_read_another_citizens_consent(db_session):
    owner, stranger = make_citizen(db_session), make_citizen(db_session)
    event = grant_consent(db_session, citizen_id=owner.id, department=get_department(db_session, "dvla"),
                          change_types=["address"], now=NOW)
    assert get_receipt(db_session, citizen_id=stranger.id, receipt_id=event.receipt_id) is None
    assert get_receipt(db_session, citizen_id=owner.id, receipt_id=event.receipt_id) is event
    with pytest.raises(LookupError):
        withdraw_consent(db_session, citizen_id=stranger.id, grant_id=event.grant_id, now=NOW)


def test_consent_cannot_be_given_for_a_change_the_department_does_not_handle(db_session):
    citizen = make_citizen(db_session)
    with pytest.raises(ConsentError):
        grant_consent(db_session, citizen_id=citizen.id, department=get_department(db_session, "hmpo"),
                      change_types=["address"], now=NOW)


def test_withdrawing_twice_is_refused(db_session):
    citizen = make_citizen(db_session)
    event = grant_consent(db_session, citizen_id=citizen.id, department=get_department(db_session, "dvla"),
                          change_types=["address"], now=NOW)
    withdraw_consent(db_session, citizen_id=citizen.id, grant_id=event.grant_id, now=NOW)
    with pytest.raises(ConsentError):
        withdraw_consent(db_session, citizen_id=citizen.id, grant_id=event.grant_id, now=NOW)
    assert uuid.UUID(event.receipt["receiptId"]) == event.receipt_id


def test_consent_withdrawn_before_the_date_means_it_is_never_sent(db_session):
    citizen = make_citizen(db_session)
    submit_change(db_session, citizen, planned_request({"dvla": "on_date"}, recipients=["dvla"]), now=NOW)
    grant = db_session.scalars(select(ConsentGrant)).one()
    withdraw_consent(db_session, citizen_id=citizen.id, grant_id=grant.id, now=NOW + timedelta(days=30))
    assert queued_notifications(db_session)["dvla"].state == NotificationState.CANCELLED
    assert claim_due(db_session, worker="w", limit=10, lease=timedelta(seconds=30), now=PLANNED_DAY + timedelta(days=1)) == []
