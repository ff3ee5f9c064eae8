"""Drills with real worker processes: kill -9 mid-batch, SIGSTOP past the lease, several
workers sharing the queue on PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import select

from tellusonce.clock import utcnow
from tellusonce.db import transaction
from tellusonce.models import AttemptOutcome, DeliveryAttempt, NotificationState, WorkerHeartbeat
from tellusonce.settings import PROJECT_ROOT
from tests.conftest import TEST_SECRET_KEY
from tests.dispatch_helpers import BackgroundWorker, dispatch_once, notifications, point_at, submit, wait_for

pytestmark = pytest.mark.slow


@contextmanager
def worker_process(database_url: str, tmp_path: Path, *args: str) -> Iterator[subprocess.Popen[bytes]]:
    """``tellusonce dispatch`` in its own process; killed and reaped however the test ends."""
    env = dict(os.environ, TELLUSONCE_MODE="test", TELLUSONCE_SECRET_KEY=TEST_SECRET_KEY,
               TELLUSONCE_DATABASE_URL=database_url, TELLUSONCE_INSTANCE_PATH=str(tmp_path / "instance"))
    log = (tmp_path / f"worker-{len(list(tmp_path.glob('worker-*')))}.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "tellusonce.cli", "dispatch", *args],
                               cwd=PROJECT_ROOT, env=env, stdout=log, stderr=log)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGCONT)
            process.kill()
        process.wait(timeout=30)
        log.close()


def _delivered(engine) -> bool:
    return {n.state for n in notifications(engine)} == {NotificationState.DELIVERED}


def _running(engine) -> int:
    with transaction(engine, writer=False) as session:
        return len(session.scalars(select(WorkerHeartbeat).where(WorkerHeartbeat.stopped_at.is_(None))).all())


def test_kill_9_mid_batch_loses_nothing_and_a_redelivery_carries_the_same_webhook_id(
        committed, settings, department_server, database_url, tmp_path):
    point_at(committed, department_server)
    for department in ("dvla", "hmrc", "dwp"):
        department_server.behave(department, delay=0.05)
    queued = submit(committed, ("dvla", "hmrc", "dwp"), count=10, now=utcnow())
    with worker_process(database_url, tmp_path, "--lease", "2", "--department-concurrency", "2") as doomed:
        wait_for(lambda: len(department_server.received) >= 6, timeout=30)
        doomed.kill()  # SIGKILL: no chance to finish, record or give anything back
        doomed.wait(timeout=10)
    assert not _delivered(committed)
    with BackgroundWorker(committed, settings):  # takes over once the dead worker's leases end
        wait_for(lambda: _delivered(committed), timeout=30)
    received = Counter(department_server.ids())
    assert set(received) == {str(n.id) for n in queued}
    bodies: dict[str, bytes] = {}
    for request in department_server.received:  # a redelivery is the same event, byte for byte
        assert bodies.setdefault(request.headers["webhook-id"], request.body) == request.body


def test_a_worker_stopped_past_its_lease_is_overtaken_and_its_late_result_refused(
        committed, settings, department_server, database_url, tmp_path):
    if committed.dialect.name != "postgresql":
        pytest.skip("a process paused inside a SQLite write transaction keeps the one write lock, so no "
                    "worker could take over; the drill runs on PostgreSQL (the lease logic itself is tested "
                    "on both in test_outbox)")
    point_at(committed, department_server)
    department_server.behave("dvla", delay=0.5)
    [queued] = submit(committed, ("dvla",), now=utcnow())
    with worker_process(database_url, tmp_path, "--lease", "2") as paused:
        wait_for(lambda: len(department_server.received) == 1, timeout=30)
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
    assert department_server.ids() == [str(queued.id)] * 2


def test_several_worker_processes_never_deliver_one_notification_twice_at_once(
        committed, settings, department_server, database_url, tmp_path):
    if committed.dialect.name != "postgresql":
        pytest.skip("several worker processes share the queue on PostgreSQL (FOR UPDATE SKIP LOCKED); "
                    "SQLite has one writer and runs one worker")
    point_at(committed, department_server)
    for department in ("dvla", "hmrc", "dwp", "hmpo"):
        department_server.behave(department, delay=0.05)
    # Two requests at a time per department each, so that no one worker can take all the work.
    options = (database_url, tmp_path, "--department-concurrency", "2")
    with worker_process(*options) as a, worker_process(*options) as b, worker_process(*options) as c:
        wait_for(lambda: _running(committed) == 3, timeout=60)
        queued = submit(committed, ("dvla", "hmrc", "dwp", "hmpo"), count=40, now=utcnow())
        wait_for(lambda: _delivered(committed), timeout=60)
        for process in (a, b, c):
            process.send_signal(signal.SIGTERM)
        assert [p.wait(timeout=20) for p in (a, b, c)] == [0, 0, 0]
    assert department_server.max_in_flight_per_id == 1
    assert Counter(department_server.ids()) == Counter({str(n.id): 1 for n in queued})
    with transaction(committed, writer=False) as session:
        workers = set(session.scalars(select(DeliveryAttempt.worker)))
    assert len(workers) >= 2  # the work was shared
