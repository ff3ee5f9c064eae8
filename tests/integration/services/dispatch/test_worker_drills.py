"""Drills with real worker processes: kill -9 mid-batch, SIGSTOP past the lease, several
workers sharing the queue on PostgreSQL, and PostgreSQL itself stopped and started again
under a working worker (on a private server: see tests/private_postgres.py)."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from tellusonce.clock import utcnow
from tellusonce.db import make_engine, transaction
from tellusonce.migrate import upgrade
from tellusonce.models import AttemptOutcome, DeliveryAttempt, NotificationState
from tests import private_postgres
from tests.dispatch_helpers import (
    BackgroundWorker,
    all_delivered,
    dispatch_once,
    free_port,
    living_children,
    notifications,
    point_at,
    reset_departments,
    running_workers,
    submit,
    wait_for,
    worker_log,
    worker_process,
)

pytestmark = pytest.mark.slow


def _alive(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_kill_9_mid_batch_loses_nothing_and_a_redelivery_carries_the_same_webhook_id(
        committed, settings, departments, database_url, tmp_path):
    for department in ("dvla", "hmrc", "dwp"):
        departments.behave(department, delay=0.05)
    queued = submit(committed, ("dvla", "hmrc", "dwp"), count=10, now=utcnow())
    with worker_process(database_url, tmp_path, "--lease", "2", "--department-concurrency", "2",
                        "--database-side", "process") as doomed:
        wait_for(lambda: len(departments.received) >= 6, timeout=30)
        helpers = living_children(doomed.pid)  # its database process (and multiprocessing's tracker)
        assert helpers
        doomed.kill()  # SIGKILL: no chance to finish, record or give anything back
        doomed.wait(timeout=10)
        wait_for(lambda: not any(_alive(pid) for pid in helpers), timeout=10)  # no orphan goes on
    assert not all_delivered(committed)
    with BackgroundWorker(committed, settings):  # takes over once the dead worker's leases end
        wait_for(lambda: all_delivered(committed), timeout=30)
    received = Counter(departments.ids())
    assert set(received) == {str(n.id) for n in queued}
    bodies: dict[str, bytes] = {}
    for request in departments.received:  # a redelivery is the same event, byte for byte
        assert bodies.setdefault(request.headers["webhook-id"], request.body) == request.body


@pytest.mark.parametrize("signum", [
    signal.SIGINT,  # Ctrl-C in a terminal: the whole process group
    signal.SIGTERM,  # a service manager stopping the unit: systemd signals every process of its control group
], ids=["ctrl-c", "sigterm-to-the-group"])
def test_a_signal_to_the_whole_group_stops_the_worker_cleanly_and_its_claims_go_back(
        committed, departments, database_url, tmp_path, signum):
    departments.behave("dvla", delay=0.3)
    submit(committed, ("dvla",), count=20, now=utcnow())
    with worker_process(database_url, tmp_path, "--department-concurrency", "2", "--database-side", "process",
                        new_session=True) as worker:
        wait_for(lambda: len(departments.received) >= 2, timeout=30)
        os.killpg(worker.pid, signum)
        assert worker.wait(timeout=30) == 0, worker_log(tmp_path)
    assert "trying again" not in worker_log(tmp_path)  # the database side did not die of the signal
    by_state = Counter(n.state for n in notifications(committed))
    assert by_state[NotificationState.DELIVERED] >= 2, by_state
    assert set(by_state) == {NotificationState.DELIVERED, NotificationState.PENDING}, by_state
    assert all(n.claimed_by is None for n in notifications(committed))  # given back through the database side


def test_a_worker_stopped_past_its_lease_is_overtaken_and_its_late_result_refused(
        committed, settings, departments, database_url, tmp_path):
    if committed.dialect.name != "postgresql":
        pytest.skip("a process paused inside a SQLite write transaction keeps the one write lock, so no "
                    "worker could take over; the drill runs on PostgreSQL (the lease logic itself is tested "
                    "on both in data/test_outbox.py)")
    departments.behave("dvla", delay=0.5)
    [queued] = submit(committed, ("dvla",), now=utcnow())
    with worker_process(database_url, tmp_path, "--lease", "2") as paused:
        wait_for(lambda: len(departments.received) == 1, timeout=30)
        paused.send_signal(signal.SIGSTOP)
        time.sleep(2.5)  # past the paused worker's lease
        stats = dispatch_once(committed, settings, now=utcnow(), name="overtaker")
        assert stats.delivered == 1
        paused.send_signal(signal.SIGCONT)
        with transaction(committed, writer=False) as session:
            def refused() -> bool:
                session.expire_all()
                return session.scalar(select(DeliveryAttempt).where(
                    DeliveryAttempt.outcome == AttemptOutcome.LEASE_LOST)) is not None
            wait_for(refused, timeout=20)
        paused.send_signal(signal.SIGTERM)
        assert paused.wait(timeout=20) == 0
    [n] = notifications(committed)
    assert n.state == NotificationState.DELIVERED and n.id == queued.id
    with transaction(committed, writer=False) as session:
        attempts = session.scalars(select(DeliveryAttempt).order_by(DeliveryAttempt.finished_at)).all()
    assert {(a.worker == "overtaker", a.outcome) for a in attempts} == {
        (True, AttemptOutcome.DELIVERED), (False, AttemptOutcome.LEASE_LOST)}
    assert departments.ids() == [str(queued.id)] * 2


def test_several_worker_processes_never_deliver_one_notification_twice_at_once(
        committed, settings, departments, database_url, tmp_path):
    if committed.dialect.name != "postgresql":
        pytest.skip("several worker processes share the queue on PostgreSQL (FOR UPDATE SKIP LOCKED); "
                    "SQLite has one writer and runs one worker")
    for department in ("dvla", "hmrc", "dwp", "hmpo"):
        departments.behave(department, delay=0.05)
    # Two requests at a time per department each, so that no one worker can take all the work.
    options = (database_url, tmp_path, "--department-concurrency", "2")
    with worker_process(*options) as a, worker_process(*options) as b, worker_process(*options) as c:
        wait_for(lambda: running_workers(committed) == 3, timeout=60)
        queued = submit(committed, ("dvla", "hmrc", "dwp", "hmpo"), count=40, now=utcnow())
        wait_for(lambda: all_delivered(committed), timeout=60)
        for process in (a, b, c):
            process.send_signal(signal.SIGTERM)
        assert [p.wait(timeout=20) for p in (a, b, c)] == [0, 0, 0]
    assert departments.max_in_flight_per_id == 1
    assert Counter(departments.ids()) == Counter({str(n.id): 1 for n in queued})
    with transaction(committed, writer=False) as session:
        workers = set(session.scalars(select(DeliveryAttempt.worker)))
    assert len(workers) >= 2  # the work was shared


@pytest.fixture
def own_postgres() -> Iterator[private_postgres.PrivatePostgres]:
    """A PostgreSQL server of this test's own, which it may stop and start (not the suite's database)."""
    reason = private_postgres.unavailable()
    if reason:
        pytest.skip(f"the restart drill starts a PostgreSQL server of its own and cannot here: {reason}")
    with private_postgres.PrivatePostgres(free_port()) as server:
        yield server


def test_postgresql_restarted_under_load_the_worker_backs_off_and_recovers_alone(
        own_postgres, department_server, tmp_path):
    upgrade(own_postgres.url)
    engine = make_engine(own_postgres.url)
    departments = ("dvla", "hmrc", "dwp")
    try:
        reset_departments(engine)
        point_at(engine, department_server)
        for department in departments:
            department_server.behave(department, delay=0.1)
        with worker_process(own_postgres.url, tmp_path, "--department-concurrency", "2") as worker:
            for mode in ("fast", "immediate"):  # a clean shutdown, then a crash with recovery at start
                sent = len(department_server.received)
                queued = submit(engine, departments, count=20, now=utcnow())
                wait_for(lambda sent=sent: len(department_server.received) >= sent + 10, timeout=30)
                own_postgres.stop(mode)  # mid-delivery: requests in flight, results waiting to be recorded
                time.sleep(3)
                assert worker.poll() is None, f"the worker died while PostgreSQL was down ({mode})"
                own_postgres.start()  # on the same port; nobody tells the worker
                try:
                    wait_for(lambda: all_delivered(engine), timeout=40)
                except AssertionError:
                    raise AssertionError(f"not everything was delivered after a {mode} restart; the worker's "
                                         f"log:\n{worker_log(tmp_path)[-3000:]}") from None
            assert worker.poll() is None
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(timeout=20) == 0
        final = notifications(engine)
        with transaction(engine, writer=False) as session:
            attempts = session.scalars(select(DeliveryAttempt)).all()
    finally:
        engine.dispose()
    assert "trying again in" in worker_log(tmp_path)  # it said it was backing off
    assert len(queued) == 2 * 20 * len(departments)  # both rounds' notifications
    assert {n.id for n in final} == {n.id for n in queued}
    assert {n.state for n in final} == {NotificationState.DELIVERED}
    bodies: dict[str, bytes] = {}
    for request in department_server.received:  # a duplicate is the same event under the same webhook-id
        assert bodies.setdefault(request.headers["webhook-id"], request.body) == request.body
    assert set(bodies) == {str(n.id) for n in queued}
    delivered = {a.notification_id for a in attempts if a.outcome == AttemptOutcome.DELIVERED}
    assert delivered == {n.id for n in queued}  # every delivery recorded as an attempt, none lost in the outage
    assert len(attempts) >= len(department_server.received)
