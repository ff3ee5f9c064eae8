"""The ordering drill with processes: per report and department, a department never receives a
cancellation before the original it names, with two ``tellusonce dispatch`` processes sharing one
PostgreSQL queue, a department that was down for hours and fails its first attempts, and retries.

A real department server on 127.0.0.1 records every request it is sent and what it answered. DVLA
is down first: it hangs a moment, then answers 500, to every request. Hours pass (the test's clock
moves on, and the dispatchers started after it share its time: ``clock_env``), DVLA is back, and
each report is cancelled the moment its original to DVLA is on its way again, its request in flight:
the cancellation is queued behind an original not yet delivered, claimable at once by either
dispatcher but for the claim's order condition (``IN_ORDER_SQL``). HMRC is up throughout: its
originals are delivered before anything is cancelled, and its cancellations follow them.

What the department server saw is then checked per report and department: the cancellation's first
request came only after the original's 2xx; nothing was sent again after a 2xx; every chain
(original, then cancellation) complete. (The same with worker threads and a controlled clock:
services/dispatch/test_worker_ordering.py.) On SQLite it is skipped: a SQLite file is one machine's
database, and SQLite runs one dispatcher.
"""

from __future__ import annotations

import signal
import subprocess
import time
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select

from tellusonce.application.cancellation import cancel_report
from tellusonce.clock import utcnow
from tellusonce.db import transaction
from tellusonce.models import (
    ChangeReport,
    Citizen,
    DeliveryAttempt,
    Department,
    Notification,
    NotificationKind,
    NotificationState,
)
from tests.dispatch_helpers import (
    DepartmentServer,
    Received,
    notifications,
    point_at,
    running_workers,
    submit,
    wait_for,
    worker_log,
    worker_process,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]  # processes started and waited on, on a busy machine

DOWN, UP = "dvla", "hmrc"
REPORTS = 16
# Requests to DVLA once it is back take this long: long enough for the test to see an original on
# its way and cancel its report, and for a cancellation that overtook it to arrive first.
IN_FLIGHT = 1.0


@pytest.fixture
def shared(committed: Engine) -> Engine:
    if committed.dialect.name != "postgresql":
        pytest.skip("SQLite is one machine's database, with one dispatcher: two dispatchers need PostgreSQL")
    return committed


def _stop(*workers: subprocess.Popen[bytes]) -> None:
    for worker in workers:
        worker.send_signal(signal.SIGTERM)  # finish what is in flight, give the rest back
    for worker in workers:
        assert worker.wait(timeout=60) == 0


def _failed_attempts(engine: Engine, department: str) -> int:
    with transaction(engine, writer=False) as session:
        return len(session.scalars(select(DeliveryAttempt.id).join(
            Notification, Notification.id == DeliveryAttempt.notification_id).where(
            Notification.department_id == department)).all())


def _circuit_open(engine: Engine, department: str) -> bool:
    with transaction(engine, writer=False) as session:
        return session.get_one(Department, department).circuit_open_until is not None


def _cancel_each_once_on_its_way(engine: Engine, *, timeout: float) -> int:
    """Cancel every report as soon as its original to DVLA is being sent (or, if that moment is
    missed, once it is delivered); how many were cancelled while that original was in flight."""
    waiting = {n.report_id for n in notifications(engine)}
    in_flight = 0
    deadline = time.monotonic() + timeout
    while waiting:
        assert time.monotonic() < deadline, f"{len(waiting)} reports never got on their way to {DOWN}"
        with transaction(engine) as session:
            ready = session.scalars(select(Notification).where(
                Notification.report_id.in_(list(waiting)), Notification.department_id == DOWN,
                Notification.kind == NotificationKind.CHANGE,
                Notification.state.in_([NotificationState.DELIVERING, NotificationState.DELIVERED]))).all()
            for n in ready:
                in_flight += n.state == NotificationState.DELIVERING
                report = session.get_one(ChangeReport, n.report_id)
                result = cancel_report(session, session.get_one(Citizen, report.citizen_id), report, now=utcnow())
                assert result.told == [DOWN, UP] and not result.not_sent
                waiting.discard(n.report_id)
        time.sleep(0.02)
    return in_flight


def _settled(engine: Engine) -> bool:
    found = notifications(engine)
    return sum(n.kind == NotificationKind.CANCELLATION for n in found) == 2 * REPORTS \
        and all(n.state == NotificationState.DELIVERED for n in found)


def _accepted(requests: list[Received]) -> list[Received]:
    return [r for r in requests if r.status is not None and 200 <= r.status < 300]


def test_two_dispatcher_processes_deliver_no_cancellation_before_its_original_after_a_department_was_down_for_hours(
        shared, department_server: DepartmentServer, database_url, tmp_path, clock):
    point_at(shared, department_server, (DOWN, UP))
    department_server.behave(DOWN, status=500, hang=0.3)  # down: a moment's hang, then 500
    department_server.behave(UP, delay=0.1)
    flags = ("--department-concurrency", "4")

    # DVLA down: its first attempts fail, its circuit opens; HMRC gets every original.
    with worker_process(database_url, tmp_path, *flags) as first, worker_process(database_url, tmp_path, *flags) as second:
        wait_for(lambda: running_workers(shared) == 2, timeout=60)
        submit(shared, (DOWN, UP), count=REPORTS, now=utcnow())
        try:
            wait_for(lambda: _circuit_open(shared, DOWN) and sum(
                n.state == NotificationState.DELIVERED for n in notifications(shared)) == REPORTS, timeout=90)
        except AssertionError:
            raise AssertionError(f"the workers' log:\n{worker_log(tmp_path)[-4000:]}") from None
        _stop(first, second)
    failed_while_down = _failed_attempts(shared, DOWN)
    assert failed_while_down >= 5  # as many in a row as open its circuit
    assert not any(n.state == NotificationState.DELIVERING for n in notifications(shared))

    # Hours later DVLA is back; two dispatchers started now run on the later clock. It holds its
    # first answers until both are running, so that neither has the queue to itself.
    clock.advance(timedelta(hours=3))
    back_at = utcnow()
    department_server.behave(DOWN, hang=50, delay=IN_FLIGHT)
    flags += ("--timeout", "60", "--lease", "180")  # a held request is neither timed out nor taken over
    with worker_process(database_url, tmp_path, *flags) as first, worker_process(database_url, tmp_path, *flags) as second:
        try:
            wait_for(lambda: running_workers(shared) == 2, timeout=45)
        except AssertionError:
            raise AssertionError(f"{running_workers(shared)} running; the workers' log:\n"
                                 f"{worker_log(tmp_path)[-4000:]}") from None
        department_server.released.set()  # every answer held, and every one after, comes after IN_FLIGHT
        in_flight = _cancel_each_once_on_its_way(shared, timeout=120)
        try:
            wait_for(lambda: _settled(shared), timeout=120)
        except AssertionError:
            raise AssertionError(f"the workers' log:\n{worker_log(tmp_path)[-4000:]}") from None
        _stop(first, second)
    # Some cancellations were queued while their original was still on its way: only the order
    # of the claim kept them back.
    assert in_flight >= 1

    found = notifications(shared)
    requests: dict[str, list[Received]] = {}
    for r in department_server.received:
        requests.setdefault(r.headers["webhook-id"], []).append(r)
    assert set(requests) == {str(n.id) for n in found}  # every notification reached its department
    for n in found:  # nothing sent again once it was accepted
        sent = requests[str(n.id)]
        assert len(_accepted(sent)) == 1 and sent[-1] is _accepted(sent)[0], f"{n.kind} {n.id} sent after its 2xx"
    chains = 0
    for cancellation in (n for n in found if n.kind == NotificationKind.CANCELLATION):
        [original] = [n for n in found if n.id == cancellation.original_id]
        assert (original.report_id, original.department_id) == (cancellation.report_id, cancellation.department_id)
        [accepted] = _accepted(requests[str(original.id)])
        first_told = min(r.at for r in requests[str(cancellation.id)])
        assert accepted.answered is not None and accepted.answered <= first_told, \
            f"{cancellation.department_id}: a cancellation overtook its original ({cancellation.report_id})"
        chains += 1
    assert chains == 2 * REPORTS
    retried = [n for n in found if n.department_id == DOWN and n.kind == NotificationKind.CHANGE
               and len(requests[str(n.id)]) > 1]
    assert retried  # DVLA's originals that failed while it was down were tried again, and got through
    with transaction(shared, writer=False) as session:
        assert set(session.scalars(select(ChangeReport.state))) == {"cancelled"}
        # Both dispatchers of the later pair delivered: the queue was shared, not one's alone.
        assert len(set(session.scalars(select(DeliveryAttempt.worker).where(DeliveryAttempt.started_at >= back_at)))) == 2
