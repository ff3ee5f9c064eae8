"""Closing an account: one transaction that makes the account unusable, cancels what is queued,
withdraws every standing consent with its receipt, and (only if asked) queues one closure event for
each organisation that received anything, naming nothing it was not sent already."""

from __future__ import annotations

import json
from datetime import timedelta

import jsonschema
import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tellusonce.application.closing import AlreadyClosed, close_account, plan_closing
from tellusonce.application.consent import active_grants, grant_consent
from tellusonce.application.intake import ChangeRequest, submit_change
from tellusonce.application.report_notices import take_due_notices
from tellusonce.data.citizens import get_citizen_by_email, issue_token
from tellusonce.data.departments import get_department
from tellusonce.data.notices import mark_reports_changed
from tellusonce.domain.event_schemas import account_closed_data_schema
from tellusonce.domain.events import ACCOUNT_CLOSED_TYPE, build_event, parse_event
from tellusonce.models import (
    AuditEvent,
    ChangeReport,
    ConsentEvent,
    EmailToken,
    Notification,
    NotificationKind,
    NotificationState,
    ReportJourney,
    TokenPurpose,
)
from tests.factories import NOW, address_answers, make_citizen

LATER = NOW + timedelta(hours=1)


def _report(session: Session, citizen, recipients: list[str], key: str,  # type: ignore[no-untyped-def]
            at=NOW) -> ChangeReport:
    result = submit_change(session, citizen, ChangeRequest(  # each key its own move (not a duplicate)
        change_type="address", answers=address_answers(address_line_1=f"{len(key)} {key} Street"),
        recipients=recipients,
        consent={d: "once" for d in recipients}, submission_key=key), now=at)
    return result.report


def _deliver(session: Session, report: ChangeReport, department: str) -> None:
    session.execute(update(Notification).where(Notification.report_id == report.id,
                                               Notification.department_id == department)
                    .values(state=NotificationState.DELIVERED, delivered_at=NOW, next_attempt_at=None))


def _events(session: Session, citizen_id) -> list[Notification]:  # type: ignore[no-untyped-def]
    session.expire_all()
    return list(session.scalars(select(Notification).where(Notification.citizen_id == citizen_id,
                                                           Notification.kind == NotificationKind.ACCOUNT_CLOSED)
                                .order_by(Notification.department_id)))


def test_a_closed_account_cannot_be_used_and_its_address_is_free_at_once(db_session: Session) -> None:
    citizen = make_citizen(db_session, email="sam@example.org")
    version = citizen.session_version
    issue_token(db_session, citizen, TokenPurpose.RESET_PASSWORD, lifetime=timedelta(hours=1), now=NOW)
    db_session.add(ReportJourney(id="j" * 32, citizen_id=citizen.id, state={"answers": {"town": "Leeds"}},
                                 started_at=NOW, updated_at=NOW, expires_at=NOW + timedelta(days=1)))
    db_session.flush()
    close_account(db_session, citizen, tell_organisations=False, now=LATER)
    db_session.expire_all()
    assert citizen.closed_at == LATER and citizen.password_hash is None
    assert citizen.session_version == version + 1  # every session cookie of it stops working
    assert "sam@example.org" not in citizen.email
    assert get_citizen_by_email(db_session, "sam@example.org") is None
    again = make_citizen(db_session, email="sam@example.org")  # the address makes a new, empty account
    assert again.id != citizen.id and again.closed_at is None
    assert not db_session.scalars(select(EmailToken).where(EmailToken.citizen_id == citizen.id)).all()
    assert not db_session.scalars(select(ReportJourney).where(ReportJourney.citizen_id == citizen.id)).all()
    [audit] = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "account.closed")).all()
    assert "sam@example.org" not in json.dumps(audit.details)
    with pytest.raises(AlreadyClosed):
        close_account(db_session, citizen, tell_organisations=False, now=LATER)


def test_closing_cancels_everything_queued_and_withdraws_every_standing_consent_with_a_receipt(
        db_session: Session) -> None:
    citizen = make_citizen(db_session)
    for department in ("hmrc", "dvla"):
        grant_consent(db_session, citizen_id=citizen.id, department=get_department(db_session, department),
                      change_types=["address"], now=NOW - timedelta(days=1))
    report = _report(db_session, citizen, ["hmrc", "dvla", "dwp"], "a")
    _deliver(db_session, report, "dvla")
    plan = plan_closing(db_session, citizen)
    assert (plan.held.reports, plan.held.standing_consents, plan.held.queued) == (1, 2, 2)
    closed = close_account(db_session, citizen, tell_organisations=False, now=LATER)
    assert closed.cancelled == 2 and len(closed.withdrawn) == 2 and closed.told == []
    db_session.expire_all()
    states = {n.department_id: n.state for n in db_session.scalars(select(Notification))}
    assert states == {"hmrc": "cancelled", "dwp": "cancelled", "dvla": "delivered"}
    assert not [g for g in active_grants(db_session, citizen.id, now=LATER) if g.scope == "standing"]
    withdrawals = db_session.scalars(select(ConsentEvent).where(ConsentEvent.kind == "withdrawn")).all()
    assert sorted(e.receipt_id for e in withdrawals) == sorted(closed.withdrawn)
    assert all(e.receipt["piiPrincipalId"] == str(citizen.id) for e in withdrawals)
    assert _events(db_session, citizen.id) == []  # nobody is told unless the citizen asks


def test_when_asked_each_organisation_that_received_anything_gets_one_closure_event_with_only_references(
        db_session: Session) -> None:
    citizen = make_citizen(db_session)
    first = _report(db_session, citizen, ["hmrc", "dvla", "dwp"], "a")
    second = _report(db_session, citizen, ["hmrc"], "b", at=NOW + timedelta(minutes=5))  # hmrc's last
    _deliver(db_session, first, "hmrc")
    _deliver(db_session, second, "hmrc")
    _deliver(db_session, first, "dvla")  # dwp: still queued, so never sent anything
    plan = plan_closing(db_session, citizen)
    assert [d.id for d, _told in plan.organisations] == sorted(["hmrc", "dvla"], key=lambda d: get_department(
        db_session, d).name)
    closed = close_account(db_session, citizen, tell_organisations=True, now=LATER)
    assert closed.told == ["dvla", "hmrc"]
    dvla, hmrc = _events(db_session, citizen.id)
    assert (dvla.department_id, hmrc.department_id) == ("dvla", "hmrc")
    assert hmrc.payload["report_references"] == sorted([first.reference, second.reference])
    assert dvla.payload["report_references"] == [first.reference]
    assert set(hmrc.payload) == {"account_id", "report_references"}
    assert hmrc.payload["account_id"] != dvla.payload["account_id"]  # organisations cannot match theirs
    assert str(citizen.id) not in json.dumps([hmrc.payload, dvla.payload])
    # Behind the last event to it about that report, under a receipt it was already sent.
    last_hmrc = db_session.scalars(select(Notification).where(Notification.report_id == second.id,
                                                              Notification.department_id == "hmrc",
                                                              Notification.kind == "change")).one()
    assert (hmrc.report_id, hmrc.after_id, hmrc.consent_receipt_id) == (second.id, last_hmrc.id,
                                                                        last_hmrc.consent_receipt_id)
    assert hmrc.state == NotificationState.PENDING


def test_the_closure_event_is_a_cloudevent_of_its_own_type_whose_data_matches_its_schema(
        db_session: Session) -> None:
    citizen = make_citizen(db_session)
    report = _report(db_session, citizen, ["hmrc"], "a")
    _deliver(db_session, report, "hmrc")
    close_account(db_session, citizen, tell_organisations=True, now=LATER)
    [event] = _events(db_session, citizen.id)
    body = build_event(notification_id=event.id, change_type=event.change_type, report_reference=report.reference,
                       payload=json.dumps(event.payload), consent_receipt_id=event.consent_receipt_id,
                       created_at=event.created_at, source="https://tellusonce.test", kind=event.kind)
    parsed = parse_event(body)
    assert parsed.get_type() == ACCOUNT_CLOSED_TYPE
    assert parsed.get_dataschema() == "https://tellusonce.test/schemas/events/account.closed.v1.json"
    jsonschema.validate(parsed.get_data(), account_closed_data_schema(base_url="https://tellusonce.test"))


def test_a_closed_account_is_not_emailed_about_what_became_of_its_reports(db_session: Session) -> None:
    citizen = make_citizen(db_session)
    report = _report(db_session, citizen, ["hmrc", "dvla"], "a")
    db_session.execute(update(Notification).where(Notification.report_id == report.id, Notification.department_id == "hmrc")
                       .values(state=NotificationState.ACKNOWLEDGED, delivered_at=NOW, acknowledged_at=NOW))
    received = db_session.scalars(select(Notification.id).where(Notification.report_id == report.id,
                                                                Notification.department_id == "hmrc")).all()
    mark_reports_changed(db_session, now=NOW, notification_ids=received)
    close_account(db_session, citizen, tell_organisations=False, now=LATER)
    assert take_due_notices(db_session, now=LATER + timedelta(days=2), quiet=timedelta(minutes=10)) == []
