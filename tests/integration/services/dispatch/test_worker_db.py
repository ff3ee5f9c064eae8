"""The worker's database side, as a process of its own (the default with more than one core)
and as a thread: the same outcomes either way, its log records reach the worker's handlers,
and a database process that dies is replaced without losing anything."""

from __future__ import annotations

import logging
import os
import signal
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from tellusonce.application.consent import withdraw_consent
from tellusonce.data.outbox import claim_due
from tellusonce.db import transaction
from tellusonce.models import ConsentGrant, Notification, NotificationState
from tellusonce_services.dispatch.worker import WorkerConfig
from tests.dispatch_helpers import BackgroundWorker, dispatch_once, notifications, states, submit, wait_for
from tests.factories import NOW


def test_the_database_side_is_a_process_where_there_is_more_than_one_core(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert WorkerConfig().database_process is True
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert WorkerConfig().database_process is False


@pytest.mark.parametrize("database_process", [True, False], ids=["process", "thread"])
def test_either_database_side_settles_every_kind_of_outcome_and_its_logs_reach_the_worker(
        committed, settings, departments, caplog, database_process):
    departments.behave("hmrc", 500)
    departments.behave("dwp", 410)
    queued = submit(committed, ("dvla", "hmrc", "dwp", "leeds-council-tax", "leeds-electoral-registration"))
    by_department = {n.department_id: n for n in queued}
    with transaction(committed) as session:  # claimed by a worker that died, so the claim checks consent again
        claim_due(session, worker="died", limit=10, lease=timedelta(seconds=30), now=NOW)
    with transaction(committed) as session:  # consent withdrawn for one; one event that cannot be built
        grant = session.scalars(select(ConsentGrant).where(
            ConsentGrant.receipt_id == by_department["leeds-council-tax"].consent_receipt_id)).one()
        withdraw_consent(session, citizen_id=grant.citizen_id, grant_id=grant.id, now=NOW)
        session.execute(update(Notification).where(
            Notification.id == by_department["leeds-electoral-registration"].id).values(change_type="retired"))
    caplog.set_level(logging.INFO)
    stats = dispatch_once(committed, settings, now=NOW + timedelta(minutes=1), database_process=database_process)
    assert states(committed) == {"dvla": ["delivered"], "hmrc": ["retrying"], "dwp": ["dead"],
                                 "leeds-council-tax": ["cancelled"], "leeds-electoral-registration": ["dead"]}
    assert (stats.delivered, stats.cancelled, stats.dead) == (1, 1, 2)
    assert sorted(departments.ids()) == sorted(str(by_department[d].id) for d in ("dvla", "hmrc", "dwp"))
    # Logged on the database side (the claim's consent check and event building), seen here.
    messages = {r.getMessage() for r in caplog.records}
    assert f"notification {by_department['leeds-council-tax'].id} cancelled: consent withdrawn" in messages
    assert f"notification {by_department['leeds-electoral-registration'].id} is dead: its event cannot be built" \
        in messages


def test_a_database_process_that_dies_is_replaced_and_nothing_is_lost(committed, settings, departments, caplog):
    departments.behave("dvla", delay=0.05)
    queued = submit(committed, ("dvla",), count=30)
    with BackgroundWorker(committed, settings, database_process=True, department_concurrency=2,
                          lease=timedelta(seconds=3), lease_margin=timedelta(seconds=1)) as worker:
        wait_for(lambda: len(departments.received) >= 4)
        assert worker.worker is not None and worker.worker._db is not None
        [doomed] = worker.worker._db._executor._processes  # type: ignore[union-attr]
        os.kill(doomed, signal.SIGKILL)
        wait_for(lambda: {n.state for n in notifications(committed)} == {NotificationState.DELIVERED}, timeout=30)
        [replacement] = worker.worker._db._executor._processes  # type: ignore[union-attr]
    assert replacement != doomed
    assert set(departments.ids()) == {str(n.id) for n in queued}
    assert "trying again" in caplog.text
