"""Claiming, leases and recording attempts: how workers share the outbox safely."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tellusonce.data.outbox import (
    acknowledge,
    claim_due,
    dead_letters,
    notifications_for_department,
    record_attempt,
    release_claims,
    replay_dead,
)
from tellusonce.db import is_sqlite, transaction
from tellusonce.domain.intake import ChangeRequest, submit_change
from tellusonce.models import AttemptOutcome, DeliveryAttempt, Notification, NotificationState
from tests.conftest import clean_database
from tests.factories import NOW, address_answers, make_citizen

LEASE = timedelta(seconds=30)
EVERYONE = ["dvla", "hmrc", "dwp", "leeds-council-tax", "leeds-electoral-registration", "tv-licensing"]


def _report(session, key="k", recipients=EVERYONE, **answers):
    citizen = make_citizen(session)
    return submit_change(session, citizen, ChangeRequest(
        change_type="address", answers=address_answers(**answers), recipients=recipients,
        consent={d: "once" for d in recipients}, submission_key=key), now=NOW)


def test_claim_takes_due_work_and_leases_it(db_session):
    _report(db_session)
    claimed = claim_due(db_session, worker="w1", limit=10, lease=LEASE, now=NOW)
    assert len(claimed) == 6
    assert all(n.state == NotificationState.DELIVERING and n.claimed_by == "w1" for n in claimed)
    assert claim_due(db_session, worker="w2", limit=10, lease=LEASE, now=NOW) == []


def test_feed_departments_are_not_claimed_by_push_workers(db_session):
    _report(db_session, recipients=["meadow-lane-surgery", "dvla"])
    assert [n.department_id for n in claim_due(db_session, worker="w", limit=10, lease=LEASE, now=NOW)] == ["dvla"]


def test_work_not_yet_due_is_left_alone(db_session):
    _report(db_session)
    assert claim_due(db_session, worker="w1", limit=10, lease=LEASE, now=NOW - timedelta(seconds=1)) == []


def test_an_expired_lease_can_be_claimed_by_another_worker_and_the_late_result_is_refused(db_session):
    _report(db_session, recipients=["dvla"])
    [mine] = claim_due(db_session, worker="slow", limit=1, lease=LEASE, now=NOW)
    later = NOW + LEASE + timedelta(seconds=1)
    [theirs] = claim_due(db_session, worker="fast", limit=1, lease=LEASE, now=later)
    assert theirs.id == mine.id and theirs.claimed_by == "fast"
    assert record_attempt(db_session, theirs, worker="fast", outcome=AttemptOutcome.DELIVERED,
                          started_at=later, finished_at=later, now=later, status_code=200)
    assert not record_attempt(db_session, mine, worker="slow", outcome=AttemptOutcome.RETRY, started_at=NOW,
                              finished_at=later, now=later, error="timeout", next_attempt_at=later)
    notification = db_session.get(Notification, mine.id)
    assert notification.state == NotificationState.DELIVERED
    outcomes = db_session.scalars(select(DeliveryAttempt.outcome).order_by(DeliveryAttempt.finished_at, DeliveryAttempt.number)).all()
    assert sorted(outcomes) == ["delivered", "lease_lost"]


def test_retry_then_dead_then_replay(db_session):
    _report(db_session, recipients=["dvla"])
    [n] = claim_due(db_session, worker="w", limit=1, lease=LEASE, now=NOW)
    retry_at = NOW + timedelta(seconds=5)
    assert record_attempt(db_session, n, worker="w", outcome=AttemptOutcome.RETRY, started_at=NOW, finished_at=NOW,
                          now=NOW, status_code=503, error="503", next_attempt_at=retry_at)
    assert db_session.get(Notification, n.id).state == NotificationState.RETRYING
    [n] = claim_due(db_session, worker="w", limit=1, lease=LEASE, now=retry_at)
    assert record_attempt(db_session, n, worker="w", outcome=AttemptOutcome.PERMANENT, started_at=retry_at,
                          finished_at=retry_at, now=retry_at, status_code=400, error="400 Bad Request")
    assert [d.id for d in dead_letters(db_session, department_id="dvla")] == [n.id]
    assert replay_dead(db_session, department_id="dvla", now=retry_at) == 1
    replayed = db_session.get(Notification, n.id)
    db_session.refresh(replayed)
    assert replayed.state == NotificationState.PENDING and replayed.attempt_count == 0


def test_release_gives_claims_back_due_at_once(db_session):
    _report(db_session)
    claim_due(db_session, worker="stopping", limit=10, lease=LEASE, now=NOW)
    assert release_claims(db_session, worker="stopping", now=NOW) == 6
    assert len(claim_due(db_session, worker="other", limit=10, lease=LEASE, now=NOW)) == 6


def test_per_department_cap_stops_one_backlog_crowding_out_the_rest(db_session):
    for i in range(5):
        _report(db_session, key=f"k{i}", recipients=["dvla"], address_line_1=f"{i} Canal Wharf")
    _report(db_session, key="other", recipients=["hmrc"], address_line_1="9 Other Street")
    claimed = claim_due(db_session, worker="w", limit=3, lease=LEASE, now=NOW, per_department=2)
    assert sorted(n.department_id for n in claimed) == ["dvla", "dvla", "hmrc"]


def test_acknowledge_only_touches_the_departments_own_notification(db_session):
    result = _report(db_session, recipients=["dvla", "hmrc"])
    dvla = next(o.notification_id for o in result.outcomes if o.department.id == "dvla")
    assert acknowledge(db_session, department_id="hmrc", notification_id=dvla, now=NOW) is None
    acked = acknowledge(db_session, department_id="dvla", notification_id=dvla, now=NOW)
    assert acked.state == NotificationState.ACKNOWLEDGED and acked.delivered_at == NOW


def test_department_feed_pages_in_order_without_gaps(db_session):
    for i in range(5):
        _report(db_session, key=f"k{i}", recipients=["dvla"], address_line_1=f"{i} Canal Wharf")
    first = notifications_for_department(db_session, "dvla", limit=3)
    rest = notifications_for_department(db_session, "dvla", after=first[-1].id, limit=3)
    assert len(first) == 3 and len(rest) == 2
    assert not {n.id for n in first} & {n.id for n in rest}
    assert notifications_for_department(db_session, "hmrc") == []


def test_concurrent_workers_never_claim_the_same_notification(engine):
    if is_sqlite(engine):
        pytest.skip("SQLite has one writer: claims cannot overlap there; this checks SKIP LOCKED on PostgreSQL")
    try:
        with transaction(engine) as session:
            for i in range(10):
                _report(session, key=f"k{i}", address_line_1=f"{i} Canal Wharf")
        claims: dict[str, list] = {}
        barrier = threading.Barrier(4)

        def work(name: str) -> None:
            barrier.wait()
            mine = []
            while True:
                with transaction(engine) as session:
                    batch = claim_due(session, worker=name, limit=3, lease=LEASE, now=NOW)
                    mine += [n.id for n in batch]
                if not batch:
                    break
            claims[name] = mine

        threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        every = [i for ids in claims.values() for i in ids]
        assert len(every) == len(set(every)) == 60
        with transaction(engine) as session:
            assert session.scalar(select(func.count()).select_from(Notification).where(
                Notification.state == NotificationState.DELIVERING)) == 60
    finally:
        clean_database(engine)
