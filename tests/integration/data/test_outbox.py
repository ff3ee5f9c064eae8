"""Claiming, leases and recording attempts: how workers share the outbox safely."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tellusonce.application.intake import ChangeRequest, submit_change
from tellusonce.data.driver import driver_for
from tellusonce.data.outbox import (
    AttemptRecord,
    _claim_statement,
    acknowledge,
    claim_due,
    dead_letters,
    notifications_for_department,
    record_attempts,
    release_claims,
    replay_dead,
)
from tellusonce.data.stats import LATENCY_BUCKETS, attempts_by_outcome, delivery_latency
from tellusonce.db import is_sqlite, transaction
from tellusonce.models import AttemptOutcome, DeliveryAttempt, Notification, NotificationState
from tests.conftest import clean_database
from tests.factories import NOW, PLANNED_DAY, address_answers, make_citizen, planned_request

LEASE = timedelta(seconds=30)
EVERYONE = ["dvla", "hmrc", "dwp", "leeds-council-tax", "leeds-electoral-registration", "tv-licensing"]


def _report(session, key="k", recipients=EVERYONE, **answers):
    citizen = make_citizen(session)
    return submit_change(session, citizen, ChangeRequest(
        change_type="address", answers=address_answers(**answers), recipients=recipients,
        consent={d: "once" for d in recipients}, submission_key=key), now=NOW)


def _stored(session, notification_id):
    session.expire_all()  # the outbox writes with Core statements, past the ORM's identity map
    return session.get(Notification, notification_id)


def _record(session, notification_id, *, worker, outcome, at, retry_at=None, **result):
    department_id = session.get(Notification, notification_id).department_id
    record = AttemptRecord(notification_id=notification_id, department_id=department_id, outcome=outcome,
                           started_at=at, finished_at=at, **result)
    schedule = (lambda number, retry_after: retry_at) if retry_at else None
    return record_attempts(session, [record], worker=worker, now=at, schedule=schedule)[notification_id]


def test_each_departments_share_of_a_claim_is_read_from_the_claimable_index(db_session):
    # The claim repeats the partial index's condition (CLAIMABLE_SQL) so that the database can
    # use it; were the two to drift apart (the index's condition is written in the migrations),
    # every claim would read the whole table.
    connection = db_session.connection()
    driver = driver_for(connection)
    statement = _claim_statement(driver, 1, 1, ranked=False)
    parameters = {"worker": "w", "now": driver.time(NOW), "until": driver.time(NOW + LEASE), "limit": 10,
                  "channel0": "webhook", "department0": "dvla", "share0": 10}
    if is_sqlite(db_session.get_bind()):
        plan = " ".join(str(row) for row in driver.execute(connection, "EXPLAIN QUERY PLAN " + statement, parameters))
    else:
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")  # a small table: whether it can, not whether it would
        plan = " ".join(str(row) for row in driver.execute(connection, "EXPLAIN " + statement, parameters))
    assert "ix_notification_claimable" in plan


def test_claim_takes_due_work_and_leases_it(db_session):
    _report(db_session)
    claimed = claim_due(db_session, worker="w1", limit=10, lease=LEASE, now=NOW)
    assert len(claimed) == 6 and all(n.lease_expires_at == NOW + LEASE for n in claimed)
    stored = [_stored(db_session, n.id) for n in claimed]
    assert all(n.state == NotificationState.DELIVERING and n.claimed_by == "w1" for n in stored)
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
    assert theirs.id == mine.id and _stored(db_session, mine.id).claimed_by == "fast"
    assert _record(db_session, theirs.id, worker="fast", outcome=AttemptOutcome.DELIVERED, at=later,
                   status_code=200) == (True, 1, None)
    stood, number, _ = _record(db_session, mine.id, worker="slow", outcome=AttemptOutcome.RETRY, at=later,
                               error="timeout", retry_at=later)
    assert not stood and number == 2
    notification = _stored(db_session, mine.id)
    assert notification.state == NotificationState.DELIVERED and notification.attempt_count == 1
    outcomes = db_session.scalars(select(DeliveryAttempt.outcome).order_by(DeliveryAttempt.number)).all()
    assert outcomes == ["delivered", "lease_lost"]


def test_a_late_delivery_of_an_acknowledged_notification_stands_in_the_log_and_changes_nothing(db_session):
    _report(db_session, recipients=["dvla"])
    [n] = claim_due(db_session, worker="slow", limit=1, lease=LEASE, now=NOW)
    acknowledge(db_session, department_id="dvla", notification_id=n.id, now=NOW)
    assert _record(db_session, n.id, worker="slow", outcome=AttemptOutcome.DELIVERED, at=NOW)[0]
    assert not _record(db_session, n.id, worker="slow", outcome=AttemptOutcome.RETRY, at=NOW, retry_at=NOW)[0]
    assert _stored(db_session, n.id).state == NotificationState.ACKNOWLEDGED
    outcomes = db_session.scalars(select(DeliveryAttempt.outcome).order_by(DeliveryAttempt.number)).all()
    assert outcomes == ["delivered", "lease_lost"]


def test_a_batch_of_results_moves_each_notification_on_by_its_own_outcome(db_session):
    _report(db_session, recipients=["dvla", "hmrc", "dwp", "leeds-council-tax"])
    claimed = {n.department_id: n.id for n in claim_due(db_session, worker="w", limit=10, lease=LEASE, now=NOW)}
    retry_at = NOW + timedelta(seconds=5)
    records = [
        AttemptRecord(claimed["dvla"], "dvla", AttemptOutcome.DELIVERED, NOW, NOW, status_code=200),
        AttemptRecord(claimed["hmrc"], "hmrc", AttemptOutcome.RETRY, NOW, NOW, status_code=503, error="503",
                      retry_after=5),
        AttemptRecord(claimed["dwp"], "dwp", AttemptOutcome.RETRY, NOW, NOW, status_code=503, error="503"),
        AttemptRecord(claimed["leeds-council-tax"], "leeds-council-tax", AttemptOutcome.CANCELLED, NOW, NOW,
                      error="consent withdrawn"),
    ]

    def schedule(number, retry_after):  # hmrc has attempts left; dwp's schedule says none
        return retry_at if retry_after is not None and number < 3 else None

    results = record_attempts(db_session, records, worker="w", now=NOW, schedule=schedule)
    assert results[claimed["hmrc"]] == (True, 1, retry_at)
    states = {d: _stored(db_session, i).state for d, i in claimed.items()}
    assert states == {"dvla": NotificationState.DELIVERED, "hmrc": NotificationState.RETRYING,
                      "dwp": NotificationState.DEAD, "leeds-council-tax": NotificationState.CANCELLED}
    assert [d.id for d in dead_letters(db_session)] == [claimed["dwp"]]


def test_retry_then_dead_then_replay(db_session):
    _report(db_session, recipients=["dvla"])
    [n] = claim_due(db_session, worker="w", limit=1, lease=LEASE, now=NOW)
    retry_at = NOW + timedelta(seconds=5)
    assert _record(db_session, n.id, worker="w", outcome=AttemptOutcome.RETRY, at=NOW, status_code=503,
                   error="503", retry_at=retry_at) == (True, 1, retry_at)
    assert _stored(db_session, n.id).state == NotificationState.RETRYING
    [n] = claim_due(db_session, worker="w", limit=1, lease=LEASE, now=retry_at)
    assert _record(db_session, n.id, worker="w", outcome=AttemptOutcome.PERMANENT, at=retry_at, status_code=400,
                   error="400 Bad Request") == (True, 2, None)
    assert [d.id for d in dead_letters(db_session, department_id="dvla")] == [n.id]
    assert replay_dead(db_session, department_id="dvla", now=retry_at) == 1
    replayed = _stored(db_session, n.id)
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


def test_per_department_shares_take_turns_and_a_department_without_a_share_takes_none(db_session):
    for i in range(5):
        _report(db_session, key=f"k{i}", recipients=["dvla", "hmrc", "dwp"], address_line_1=f"{i} Canal Wharf")
    claimed = claim_due(db_session, worker="w", limit=4, lease=LEASE, now=NOW,
                        per_department={"dvla": 3, "hmrc": 1})
    assert sorted(n.department_id for n in claimed) == ["dvla", "dvla", "dvla", "hmrc"]
    assert claim_due(db_session, worker="w", limit=4, lease=LEASE, now=NOW, per_department={}) == []


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


def test_the_metrics_tally_agrees_with_the_attempt_log(db_session):
    """/metrics reads running totals kept with each record; they must say what the log says."""
    _report(db_session)
    department_of = {n.id: n.department_id for n in claim_due(db_session, worker="w1", limit=10, lease=LEASE, now=NOW)}
    claimed = list(department_of)
    latencies = [4, 10, 11, 30_000, None, 250]  # on a bucket's bound, just past it, past every bucket, none
    outcomes = [AttemptOutcome.DELIVERED, AttemptOutcome.DELIVERED, AttemptOutcome.RETRY, AttemptOutcome.RETRY,
                AttemptOutcome.CANCELLED, AttemptOutcome.PERMANENT]
    first, second = claimed[:3], claimed[3:]
    for worker, ids in (("w1", first), ("w2", second)):  # two workers: two shards of the tally
        record_attempts(db_session, [
            AttemptRecord(i, department_of[i], outcomes[claimed.index(i)], NOW, NOW,
                          latency_ms=latencies[claimed.index(i)])
            for i in ids], worker=worker, now=NOW)  # w2 holds no claim: its results are lease_lost
    log = db_session.execute(select(DeliveryAttempt.outcome, DeliveryAttempt.latency_ms)).all()
    assert dict(attempts_by_outcome(db_session)) == dict(
        db_session.execute(select(DeliveryAttempt.outcome, func.count()).group_by(DeliveryAttempt.outcome)).all())
    reached = [ms for _, ms in log if ms is not None]
    latency = delivery_latency(db_session)
    assert latency.count == len(reached) == 5
    assert latency.total_seconds == sum(reached) / 1000
    assert latency.cumulative == [(bound, sum(1 for ms in reached if ms <= bound * 1000))
                                  for bound in LATENCY_BUCKETS]
    assert latency.cumulative[0] == (0.01, 2)  # 4 ms and 10 ms; 11 ms is in the next bucket


# -- in order: a follow-up waits for the notification before it ------------------------------


def _follow_up(session, original, *, after=None, kind="cancellation", at=NOW):
    """A follow-up of ``original`` queued behind ``after`` (default: the original), as the
    cancellation (and later the correction) use cases write one."""
    import uuid as uuid_

    from tellusonce.data.outbox import insert_notifications

    row = {"id": uuid_.uuid4(), "report_id": original.report_id, "citizen_id": original.citizen_id,
           "department_id": original.department_id, "change_type": original.change_type, "kind": kind,
           "original_id": original.id, "after_id": (after or original).id, "state": NotificationState.PENDING,
           "payload": {}, "consent_receipt_id": original.consent_receipt_id, "attempt_count": 0,
           "next_attempt_at": at, "created_at": at, "updated_at": at}
    insert_notifications(session, [row])
    return row["id"]


def _queued_id(result):
    [notification_id] = [o.notification_id for o in result.outcomes if o.notification_id]
    return notification_id


def _claimed_ids(session, *, now, worker="w"):
    return {c.id for c in claim_due(session, worker=worker, limit=50, lease=LEASE, now=now, department_ids=["dvla"])}


@pytest.mark.parametrize("earlier_state", [NotificationState.PENDING, NotificationState.RETRYING,
                                           NotificationState.DELIVERING])
def test_a_follow_up_is_not_claimed_while_the_notification_before_it_is_still_to_deliver(db_session, earlier_state):
    report = _report(db_session, recipients=["dvla"])
    original = db_session.get(Notification, _queued_id(report))
    original.state = earlier_state
    # Not due (retrying later, or leased): only the follow-up is due, and still it waits.
    original.next_attempt_at = NOW + timedelta(hours=6)
    db_session.flush()
    follow_up = _follow_up(db_session, original)
    assert _claimed_ids(db_session, now=NOW + timedelta(minutes=1)) == set()
    # Even when the one before it is due (its lease ran out) the two are never claimed together.
    original.next_attempt_at = NOW
    db_session.flush()
    assert _claimed_ids(db_session, now=NOW + timedelta(minutes=1)) == {original.id}
    assert follow_up not in _claimed_ids(db_session, now=NOW + timedelta(hours=1))


@pytest.mark.parametrize("final_state", [NotificationState.DELIVERED, NotificationState.ACKNOWLEDGED,
                                         NotificationState.DEAD, NotificationState.CANCELLED])
def test_a_follow_up_is_claimed_once_the_notification_before_it_is_delivered_dead_or_cancelled(db_session, final_state):
    report = _report(db_session, recipients=["dvla"])
    original = db_session.get(Notification, _queued_id(report))
    original.state = final_state
    original.next_attempt_at = None
    db_session.flush()
    follow_up = _follow_up(db_session, original)
    assert _claimed_ids(db_session, now=NOW + timedelta(minutes=1)) == {follow_up}


def test_a_chain_of_follow_ups_is_claimed_one_at_a_time_in_order(db_session):
    report = _report(db_session, recipients=["dvla"])
    original_id = _queued_id(report)
    original = db_session.get(Notification, original_id)
    second = _follow_up(db_session, original, kind="correction")
    third = _follow_up(db_session, original, after=db_session.get(Notification, second))
    order = []
    for minute in range(1, 5):
        now = NOW + timedelta(minutes=minute)
        claimed = _claimed_ids(db_session, now=now)
        assert len(claimed) <= 1
        for notification_id in claimed:
            order.append(notification_id)
            _record(db_session, notification_id, worker="w", outcome=AttemptOutcome.DELIVERED, at=now)
    assert order == [original_id, second, third]


def test_a_planned_notification_is_not_claimed_before_it_is_due(db_session):
    submit_change(db_session, make_citizen(db_session), planned_request({"dvla": "on_date", "leeds-council-tax": "on_date"}), now=NOW)
    claim = dict(worker="w", limit=10, lease=timedelta(days=365))  # nothing claimed comes back in this test
    # HMRC is told now (not named); the surgery is a feed, which no worker claims.
    assert [c.department_id for c in claim_due(db_session, now=NOW + timedelta(minutes=1), **claim)] == ["hmrc"]
    assert claim_due(db_session, now=PLANNED_DAY - timedelta(days=14, seconds=1), **claim) == []
    assert [c.department_id for c in claim_due(db_session, now=PLANNED_DAY - timedelta(days=14), **claim)] == [
        "leeds-council-tax"]
    assert [c.department_id for c in claim_due(db_session, now=PLANNED_DAY + timedelta(hours=8), **claim)] == ["dvla"]
