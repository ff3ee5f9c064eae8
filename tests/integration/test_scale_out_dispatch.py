"""A scale-out drill for delivery: two ``tellusonce dispatch`` processes on one PostgreSQL database share the
queue, with a real department server on 127.0.0.1 counting what it receives by notification id; one is killed
with -9 mid-run, and the other delivers everything, each notification once by its id.

(Several dispatchers with none killed, each notification received exactly once and never two at a time, is
``test_several_worker_processes_never_deliver_one_notification_twice_at_once`` in
services/dispatch/test_worker_drills.py.) On SQLite it is skipped: a SQLite file is one machine's database,
and SQLite runs one dispatcher.
"""

from __future__ import annotations

import os
import signal
from collections import Counter

import pytest
from sqlalchemy import Engine, select

from tellusonce.clock import utcnow
from tellusonce.db import transaction
from tellusonce.models import Notification, NotificationState
from tests.dispatch_helpers import (
    DepartmentServer,
    all_delivered,
    notifications,
    point_at,
    running_workers,
    submit,
    wait_for,
    worker_log,
    worker_process,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]  # processes starting and waited on, on a busy machine

DEPARTMENTS = ("dvla", "hmrc", "dwp", "hmpo")


@pytest.fixture
def shared(committed: Engine) -> Engine:
    if committed.dialect.name != "postgresql":
        pytest.skip("SQLite is one machine's database, with one dispatcher: two dispatchers need PostgreSQL")
    return committed


def claimed_by(engine: Engine, pid: int) -> set[str]:
    """The ids of the notifications the worker process ``pid`` holds and has not recorded as delivered."""
    with transaction(engine, writer=False) as session:
        return {str(i) for i in session.scalars(select(Notification.id).where(
            Notification.claimed_by.like(f"%:{pid}:%"),  # a worker's name: host:pid:random (worker_name)
            Notification.state != NotificationState.DELIVERED))}


def test_when_one_of_two_dispatchers_is_killed_mid_run_the_other_delivers_everything_once_by_its_id(
        shared, department_server: DepartmentServer, database_url, tmp_path):
    point_at(shared, department_server)
    for department in DEPARTMENTS:
        department_server.behave(department, delay=0.1)
    # The doomed one's claims lapse five seconds after it dies; the survivor keeps the usual lease, so that a
    # busy machine never makes it overtake itself.
    with worker_process(database_url, tmp_path, "--department-concurrency", "1", "--lease", "5",
                        new_session=True) as doomed, \
            worker_process(database_url, tmp_path, "--department-concurrency", "1") as survivor:
        wait_for(lambda: running_workers(shared) == 2, timeout=60)
        queued = submit(shared, DEPARTMENTS, count=30, now=utcnow())
        try:  # mid-run: the work under way, and the doomed one holding some of it
            wait_for(lambda: len(department_server.received) >= 20 and claimed_by(shared, doomed.pid), timeout=60)
        except AssertionError:
            raise AssertionError(f"{len(department_server.received)} received; the workers' log:\n"
                                 f"{worker_log(tmp_path)[-4000:]}") from None
        os.killpg(doomed.pid, signal.SIGKILL)  # the host dies: the dispatcher and its database side, mid-request
        doomed.wait(timeout=10)
        held_by_the_dead = claimed_by(shared, doomed.pid)  # before its leases lapse and the survivor takes them
        assert held_by_the_dead, "the doomed dispatcher held no work when it died"
        assert not all_delivered(shared), "everything was delivered before the kill: the drill needs more work"
        wait_for(lambda: all_delivered(shared), timeout=120)
        assert survivor.poll() is None
        survivor.send_signal(signal.SIGTERM)
        assert survivor.wait(timeout=30) == 0
    received = Counter(department_server.ids())
    assert set(received) == {str(n.id) for n in notifications(shared)} == {str(n.id) for n in queued}
    # At least once: a notification the dead dispatcher had sent, but not yet recorded, is sent again by the
    # other. Only those, and as the very same event under the same webhook-id, so that a department counting
    # by notification id (the idempotency key) counts every one exactly once.
    assert {i for i, times in received.items() if times > 1} <= held_by_the_dead
    assert max(received.values()) <= 2
    bodies: dict[str, bytes] = {}
    for request in department_server.received:
        assert bodies.setdefault(request.headers["webhook-id"], request.body) == request.body
    assert department_server.max_in_flight_per_id == 1
