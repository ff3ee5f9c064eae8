"""The dispatch worker deletes report journeys a day past their last change."""

from __future__ import annotations

from datetime import timedelta

from dispatch_helpers import BackgroundWorker, wait_for
from sqlalchemy import Engine, select

from tellusonce.clock import utcnow
from tellusonce.data.journeys import store_journey
from tellusonce.db import transaction
from tellusonce.models import ReportJourney
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
