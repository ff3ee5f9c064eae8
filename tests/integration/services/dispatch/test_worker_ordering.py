"""The ordering drill: per report and department, a cancellation is never delivered before the
original it names, with two dispatchers sharing the queue and a department that fails its first
attempts of every notification (a real HTTP server on 127.0.0.1 answering 503).

Each report is cancelled the moment its original is on its way (claimed, its request in flight),
so the cancellation is queued behind an original that is not yet delivered: nothing but the
claim's order condition (``IN_ORDER_SQL``) stops the other dispatcher from sending it at once.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from tellusonce.application.cancellation import cancel_report
from tellusonce.clock import utcnow
from tellusonce.db import transaction
from tellusonce.models import ChangeReport, Citizen, Notification, NotificationKind, NotificationState
from tests.dispatch_helpers import (
    WEBHOOK_DEPARTMENTS,
    BackgroundWorker,
    DepartmentServer,
    notifications,
    point_at,
    submit,
)

pytestmark = pytest.mark.slow
# Two reports to each department: its circuit never opens (at most four failures in a row), so
# that nothing but the order of the claim holds a cancellation back.
PER_DEPARTMENT = 2


def _cancel_each_once_on_its_way(engine, server: DepartmentServer, *, after_failures: int, timeout: float,
                                 tick=None) -> int:  # type: ignore[no-untyped-def]
    """Cancel every report as soon as its original is being sent after ``after_failures`` failed
    attempts (or, if that moment is missed, once it is delivered); how many were cancelled while
    their original was in flight."""
    waiting = {n.report_id for n in notifications(engine)}
    in_flight = 0
    deadline = time.monotonic() + timeout
    while waiting:
        assert time.monotonic() < deadline, f"{len(waiting)} reports never got on their way"
        with transaction(engine) as session:
            ready = session.scalars(select(Notification).where(
                Notification.report_id.in_(list(waiting)), Notification.kind == NotificationKind.CHANGE,
                Notification.attempt_count >= after_failures,
                Notification.state.in_([NotificationState.DELIVERING, NotificationState.DELIVERED]))).all()
            for n in ready:
                in_flight += n.state == NotificationState.DELIVERING
                report = session.get_one(ChangeReport, n.report_id)
                result = cancel_report(session, session.get_one(Citizen, report.citizen_id), report, now=utcnow())
                assert result.told == [n.department_id]
                waiting.discard(n.report_id)
        if tick:
            tick()
        time.sleep(0.01)
    return in_flight


def _settled(engine) -> bool:  # type: ignore[no-untyped-def]
    found = notifications(engine)
    cancellations = [n for n in found if n.kind == NotificationKind.CANCELLATION]
    originals = [n for n in found if n.kind == NotificationKind.CHANGE]
    return len(cancellations) == len(originals) and all(n.state == NotificationState.DELIVERED for n in cancellations) \
        and all(n.state in (NotificationState.DELIVERED, NotificationState.CANCELLED) for n in found)


def _wait_settled(engine, timeout: float, tick=None) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not _settled(engine):
        assert time.monotonic() < deadline, sorted((n.kind, n.state, n.department_id, n.attempt_count) for n in notifications(engine) if n.state != "delivered")
        if tick:
            tick()
        time.sleep(0.1)


def _check_order(engine, server: DepartmentServer, *, fails: int) -> int:  # type: ignore[no-untyped-def]
    """Every cancellation reached the department after its original had been answered, and after
    the original's 2xx where it was delivered; how many originals were delivered before their
    cancellation (the rest were still failing when cancelled, and were then never sent again)."""
    delivered_first = 0
    by_id = {str(n.id): n for n in notifications(engine)}
    requests: dict[str, list] = {}
    for r in server.received:
        requests.setdefault(r.headers["webhook-id"], []).append(r)
    for cancellation in (n for n in by_id.values() if n.kind == NotificationKind.CANCELLATION):
        original = by_id[str(cancellation.original_id)]
        told = requests[str(cancellation.id)]
        sent = requests[str(original.id)]
        assert len(told) == fails + 1  # it failed too, was retried, and got through
        first_told = min(r.at for r in told)
        accepted = [r for r in sent if r.status == 200]
        if original.state == NotificationState.DELIVERED:
            assert accepted and min(r.answered for r in accepted) <= first_told, "a cancellation overtook its original"
            delivered_first += 1
        else:
            assert original.state == NotificationState.CANCELLED and not accepted  # withheld once cancelled
        assert all(r.answered is not None and r.answered <= first_told for r in sent[:1])
    return delivered_first


def test_two_dispatchers_never_deliver_a_cancellation_before_its_original_through_retries(
        committed, settings, department_server, clock):
    point_at(committed, department_server)
    for department in WEBHOOK_DEPARTMENTS:
        # Every notification fails twice (503) before it gets through; each request takes a
        # moment, so that a cancellation queued meanwhile could easily overtake it.
        department_server.behave(department, fail_first=2, delay=0.5)
        submit(committed, (department,), count=PER_DEPARTMENT, now=utcnow())

    def tick() -> None:  # the retries come 5 s, then 5 min, after a failure: the clock moves on
        clock.advance(timedelta(seconds=20))

    # A lease far longer than the clock moves while a request is in flight: no claim is overtaken.
    config = {"lease": timedelta(hours=2), "department_concurrency": 4}
    with BackgroundWorker(committed, settings, **config), BackgroundWorker(committed, settings, **config):
        in_flight = _cancel_each_once_on_its_way(committed, department_server, after_failures=2, timeout=90,
                                                 tick=tick)
        _wait_settled(committed, timeout=90, tick=tick)
    assert in_flight >= 1  # some cancellations were queued behind an original still being sent
    assert _check_order(committed, department_server, fails=2) >= 1
    with transaction(committed, writer=False) as session:
        told = select(Notification.report_id)
        assert {r.state for r in session.scalars(select(ChangeReport).where(ChangeReport.id.in_(told)))} == {"cancelled"}
