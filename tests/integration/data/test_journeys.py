"""The report journey's answers, kept in the report_journey table between pages."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tellusonce.clock import utcnow
from tellusonce.data.journeys import delete_journey, load_journey, store_journey
from tellusonce.models import ReportJourney
from tellusonce.web.journey import Journey
from tests.factories import make_citizen


def _store(session: Session, journey: Journey) -> None:
    store_journey(session, journey.id, uuid.UUID(journey.citizen_id), journey.state(),
                  started_at=utcnow(), now=utcnow())


def test_a_journey_is_kept_and_read_back_by_its_citizen(db_session: Session) -> None:
    citizen = make_citizen(db_session)
    journey = Journey.start(citizen.id, "address")
    journey.set_answers(("postcode", "town"), {"postcode": "LS1 1AA", "town": "Llŷn " * 400})
    _store(db_session, journey)
    db_session.expunge_all()  # read back from the database, not the session
    row = load_journey(db_session, journey.id, citizen.id, now=utcnow())
    assert row is not None and row.state == journey.state()
    assert row.state["answers"] == {"postcode": "LS1 1AA", "town": "Llŷn " * 400}
    assert journey.submission_key == f"web-{journey.id}" and len(journey.submission_key) == 36


def test_another_citizen_cannot_read_or_overwrite_a_journey(db_session: Session) -> None:
    owner, other = make_citizen(db_session), make_citizen(db_session)
    journey = Journey.start(owner.id, "address")
    _store(db_session, journey)
    assert load_journey(db_session, journey.id, other.id, now=utcnow()) is None
    with pytest.raises(PermissionError):
        store_journey(db_session, journey.id, other.id, {"change_type": "name"}, started_at=utcnow(), now=utcnow())
    assert not delete_journey(db_session, journey.id, other.id)
    assert load_journey(db_session, journey.id, owner.id, now=utcnow()) is not None


def test_a_journey_expires_a_day_after_its_last_change(db_session: Session, clock) -> None:
    """(The retention schedule deletes it then: tests/integration/application/test_retention.py.)"""
    citizen = make_citizen(db_session)
    old, touched = Journey.start(citizen.id, "address"), Journey.start(citizen.id, "name")
    _store(db_session, old)
    _store(db_session, touched)
    clock.advance(timedelta(hours=20))
    _store(db_session, touched)  # a page answered: another day from now
    clock.advance(timedelta(hours=5))
    assert load_journey(db_session, old.id, citizen.id, now=utcnow()) is None
    assert load_journey(db_session, touched.id, citizen.id, now=utcnow()) is not None
    assert sorted(db_session.scalars(select(ReportJourney.id)).all()) == sorted([old.id, touched.id])


def test_a_deleted_journey_is_gone(db_session: Session) -> None:
    citizen = make_citizen(db_session)
    journey = Journey.start(citizen.id, "address")
    _store(db_session, journey)
    assert delete_journey(db_session, journey.id, citizen.id)
    assert load_journey(db_session, journey.id, citizen.id, now=utcnow()) is None
    assert not delete_journey(db_session, journey.id, citizen.id)


def test_each_journey_gets_its_own_submission_key() -> None:
    citizen = uuid.uuid4()
    assert Journey.start(citizen, "address").submission_key != Journey.start(citizen, "address").submission_key


def test_a_journey_read_before_it_is_written_shows_what_was_written(db_session: Session) -> None:
    citizen = make_citizen(db_session)
    journey = Journey.start(citizen.id, "address")
    _store(db_session, journey)
    row = load_journey(db_session, journey.id, citizen.id, now=utcnow())
    assert row is not None and row.state["answers"] == {}
    journey.set_answers(("town",), {"town": "Leeds"})
    _store(db_session, journey)  # one UPDATE, beside the row this session holds
    assert row.state["answers"] == {"town": "Leeds"}
