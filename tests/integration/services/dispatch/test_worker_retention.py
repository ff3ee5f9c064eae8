"""The dispatch worker applies the retention schedule: journeys a day past their last change, payloads
kept their period, each removal an audit event."""

from __future__ import annotations

from datetime import timedelta

from dispatch_helpers import BackgroundWorker, submit, wait_for
from sqlalchemy import Engine, select, update

from tellusonce.clock import utcnow
from tellusonce.data.journeys import store_journey
from tellusonce.db import transaction
from tellusonce.models import AuditEvent, Notification, ReportJourney
from tellusonce.settings import Settings
from tests.factories import make_citizen


def _journey_ids(engine: Engine) -> set[str]:
    with transaction(engine, writer=False) as session:
        return set(session.scalars(select(ReportJourney.id)))


def test_a_running_worker_deletes_expired_journeys_and_keeps_the_others(committed: Engine, settings: Settings,
                                                                        clock) -> None:
    with transaction(committed) as session:
        citizen = make_citizen(session)
        store_journey(session, "a" * 32, citizen.id, {"change_type": "address"}, started_at=utcnow(), now=utcnow())
    clock.advance(timedelta(hours=23))
    with transaction(committed) as session:
        store_journey(session, "b" * 32, citizen.id, {"change_type": "name"}, started_at=utcnow(), now=utcnow())
    clock.advance(timedelta(hours=2))
    with BackgroundWorker(committed, settings):
        wait_for(lambda: _journey_ids(committed) == {"b" * 32})
        wait_for(lambda: _retention_events(committed) == [("journeys", 1)])


def _retention_events(engine: Engine) -> list[tuple[str, int]]:
    with transaction(engine, writer=False) as session:
        return [(e.details["kind"], e.details["count"])
                for e in session.scalars(select(AuditEvent).where(AuditEvent.chain == "retention"))]


def test_a_running_worker_blanks_payloads_kept_their_period_while_it_delivers(committed: Engine, settings: Settings,
                                                                               clock) -> None:
    old, new = submit(committed, ("dvla",), count=2)
    with transaction(committed) as session:
        session.execute(update(Notification).where(Notification.id == old.id).values(
            state="acknowledged", delivered_at=utcnow() - timedelta(days=40), acknowledged_at=utcnow() - timedelta(days=31),
            next_attempt_at=None))
    with BackgroundWorker(committed, settings):
        wait_for(lambda: _retention_events(committed) == [("notification_payloads", 1)])
    with transaction(committed, writer=False) as session:
        assert set(session.get(Notification, old.id).payload.values()) == {None}
        assert any(v is not None for v in session.get(Notification, new.id).payload.values())
