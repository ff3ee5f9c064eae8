"""Changing a standing consent: a new grant replaces the old; only what it no longer covers is cancelled."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from tellusonce.application.consent import active_grants, grant_consent
from tellusonce.application.consent_changes import (
    cancelled_by_limit,
    cancelled_by_withdrawal,
    consents_by_department,
    set_standing_consent,
)
from tellusonce.application.intake import ChangeRequest, submit_change
from tellusonce.data.departments import get_department
from tellusonce.models import ConsentEvent, Notification
from tests.factories import NOW, address_answers, make_citizen


def _queue(session: Session, citizen, change_type: str, answers: dict, key: str) -> None:  # type: ignore[no-untyped-def]
    submit_change(session, citizen, ChangeRequest(change_type=change_type, answers=answers, recipients=["hmrc"],
                                                  submission_key=key), now=NOW)


def test_the_same_consent_again_changes_nothing(db_session: Session) -> None:
    citizen = make_citizen(db_session)
    hmrc = get_department(db_session, "hmrc")
    event, cancelled = set_standing_consent(db_session, citizen_id=citizen.id, department=hmrc,
                                            change_types=["address"], expires_at=None, now=NOW)
    assert event is not None and cancelled == 0
    again, _ = set_standing_consent(db_session, citizen_id=citizen.id, department=hmrc,
                                    change_types=["address"], expires_at=None, now=NOW + timedelta(minutes=1))
    assert again is None
    assert len(db_session.scalars(select(ConsentEvent)).all()) == 1


def test_limiting_moves_waiting_notifications_it_still_covers_and_cancels_the_rest(db_session: Session) -> None:
    citizen = make_citizen(db_session)
    hmrc = get_department(db_session, "hmrc")
    grant_consent(db_session, citizen_id=citizen.id, department=hmrc, change_types=["address", "contact"],
                  now=NOW - timedelta(days=1))
    _queue(db_session, citizen, "address", address_answers(), "a")
    _queue(db_session, citizen, "contact", {"phone": "0113 496 0000"}, "c")
    assert cancelled_by_limit(db_session, citizen.id, "hmrc", ["address"], now=NOW) == 1
    assert cancelled_by_withdrawal(db_session, citizen.id, "hmrc", now=NOW) == 2
    event, cancelled = set_standing_consent(db_session, citizen_id=citizen.id, department=hmrc,
                                            change_types=["address"], expires_at=NOW + timedelta(days=30), now=NOW)
    assert cancelled == 1 and event is not None
    db_session.expire_all()
    states = {n.change_type: (n.state, n.consent_receipt_id) for n in db_session.scalars(select(Notification))}
    assert states["address"] == ("pending", event.receipt_id)
    assert states["contact"][0] == "cancelled"
    [grant] = active_grants(db_session, citizen.id, now=NOW)
    assert grant.change_types == ["address"] and grant.expires_at == NOW + timedelta(days=30)


def test_consents_by_department_counts_standing_and_one_off_consent(db_session: Session) -> None:
    citizen = make_citizen(db_session)
    submit_change(db_session, citizen, ChangeRequest(change_type="address", answers=address_answers(),
                                                     recipients=["dvla"], consent={"dvla": "once"},
                                                     submission_key="k"), now=NOW)
    grant_consent(db_session, citizen_id=citizen.id, department=get_department(db_session, "dvla"),
                  change_types=["name"], now=NOW)
    [entry] = consents_by_department(db_session, citizen.id, [get_department(db_session, "dvla")],
                                     now=NOW + timedelta(seconds=1))
    assert entry.change_types == ["name"] and entry.one_off == 1 and entry.any
