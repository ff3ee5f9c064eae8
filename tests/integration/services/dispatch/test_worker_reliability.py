"""What must never happen: a withdrawn consent honoured late, one department holding up the
others, one bad notification blocking the queue, a lost database connection stopping the worker."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, text, update

from tellusonce.application.consent import withdraw_consent
from tellusonce.cli import main
from tellusonce.data.outbox import claim_due
from tellusonce.db import make_engine, transaction
from tellusonce.models import ConsentGrant, Department, Notification, NotificationState
from tests.dispatch_helpers import BackgroundWorker, dispatch_once, notifications, states, submit, wait_for
from tests.factories import NOW


def _withdraw(engine, notification) -> None:
    with transaction(engine) as session:
        grant = session.scalars(select(ConsentGrant).where(ConsentGrant.receipt_id == notification.consent_receipt_id)).one()
        withdraw_consent(session, citizen_id=grant.citizen_id, grant_id=grant.id, now=NOW + timedelta(seconds=1))


def test_consent_withdrawn_between_submit_and_dispatch_means_nothing_is_sent(committed, settings, departments):
    [queued] = submit(committed, ("dvla",))
    _withdraw(committed, queued)
    dispatch_once(committed, settings, now=NOW + timedelta(seconds=2))
    assert departments.received == []
    assert [n.state for n in notifications(committed)] == [NotificationState.CANCELLED]


def test_consent_withdrawn_while_a_claim_was_held_is_checked_again_before_sending(committed, settings, departments):
    [queued] = submit(committed, ("dvla",))
    with transaction(committed) as session:  # a worker claims it and dies
        claim_due(session, worker="died", limit=10, lease=timedelta(seconds=30), now=NOW)
    _withdraw(committed, queued)  # a claimed notification is not cancelled by the withdrawal itself
    assert [n.state for n in notifications(committed)] == [NotificationState.DELIVERING]
    stats = dispatch_once(committed, settings, now=NOW + timedelta(minutes=1))
    assert stats.cancelled == 1 and departments.received == []
    [n] = notifications(committed)
    assert n.state == NotificationState.CANCELLED and "consent withdrawn" in n.last_error


def test_a_department_down_for_hours_waits_while_others_flow_then_drains(committed, settings, departments):
    departments.behave("dvla", 503)
    submit(committed, ("dvla", "hmrc"), count=3)
    clock = NOW
    for step in range(12):  # six hours, half an hour at a time; one new report each step
        dispatch_once(committed, settings, now=clock)
        assert states(committed)["hmrc"] == ["delivered"] * (3 + step)
        clock += timedelta(minutes=30)
        submit(committed, ("dvla", "hmrc"), now=clock)
    down = len(departments.ids("dvla"))
    assert down < 30  # backed off and held by the circuit breaker, not hammered
    assert set(states(committed)["dvla"]) == {"retrying", "pending"}
    with transaction(committed, writer=False) as session:
        assert session.get(Department, "dvla").consecutive_failures >= 5
    departments.behave("dvla", 200)
    for _ in range(30):  # the back-end returns; within hours everything is delivered
        clock += timedelta(minutes=30)
        dispatch_once(committed, settings, now=clock)
        if set(states(committed)["dvla"]) == {"delivered"}:
            break
    assert states(committed)["dvla"] == ["delivered"] * 15
    assert len(set(departments.ids("dvla"))) == 15


def test_a_notification_that_cannot_be_built_is_dead_at_once_and_blocks_nothing(committed, settings, departments, runner):
    [broken, *_] = submit(committed, ("dvla",), count=3)
    with transaction(committed) as session:  # a change type that no longer exists has no schema
        session.execute(update(Notification).where(Notification.id == broken.id).values(change_type="retired"))
    stats = dispatch_once(committed, settings)
    assert stats.dead == 1 and stats.delivered == 2
    assert str(broken.id) not in departments.ids()
    listing = runner.invoke(main, ["dead-letters", "list", "--department", "dvla"])
    assert str(broken.id) in listing.output and "cannot build the event" in listing.output
    replay = runner.invoke(main, ["dead-letters", "replay", "--department", "dvla", "--since", "2026-01-01"])
    assert replay.output.strip() == "1 dead letter queued again"
    assert NotificationState.PENDING in [n.state for n in notifications(committed) if n.id == broken.id]


def test_department_without_a_signing_secret_in_production_waits_and_says_why(committed, settings, departments, caplog):
    import dataclasses

    production = dataclasses.replace(settings, mode="production")
    with transaction(committed) as session:  # production sends only to https
        session.execute(update(Department).where(Department.id == "dvla")
                        .values(webhook_url="https://dvla.example/hooks"))
    submit(committed, ("dvla",))
    stats = dispatch_once(committed, production)
    assert stats.delivered == 0 and [n.state for n in notifications(committed)] == [NotificationState.PENDING]
    assert "TELLUSONCE_WEBHOOK_SECRET_DVLA is not set" in caplog.text


def test_sigterm_lets_in_flight_deliveries_finish_and_gives_back_the_rest(committed, settings, departments):
    departments.behave("dvla", delay=0.5)
    submit(committed, ("dvla",), count=15)
    with BackgroundWorker(committed, settings, department_concurrency=5) as worker:
        wait_for(lambda: len(departments.received) >= 5)
        stats = worker.stop()
    assert stats is not None and stats.delivered == 5
    by_state = states(committed)["dvla"]
    assert by_state.count("delivered") == 5 and by_state.count("pending") == 10
    assert all(n.claimed_by is None for n in notifications(committed))


def test_the_worker_recovers_alone_when_its_database_connections_are_dropped(committed, settings, departments, database_url):
    if committed.dialect.name != "postgresql":
        pytest.skip("dropping a server-side connection needs PostgreSQL (SQLite has no server to drop it)")
    departments.behave("dvla", delay=0.02)
    name = f"worker-{uuid.uuid4().hex[:8]}"
    engine = make_engine(database_url, connect_args={"application_name": name})
    try:
        with BackgroundWorker(engine, settings, department_concurrency=2):
            submit(committed, ("dvla", "hmrc"), count=20, now=NOW - timedelta(hours=1))
            deadline = time.monotonic() + 1.5
            with committed.connect() as admin:
                while time.monotonic() < deadline:  # its connections die again and again, mid-work
                    admin.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                       "WHERE application_name = :name"), {"name": name})
                    admin.commit()
                    time.sleep(0.01)
            wait_for(lambda: {n.state for n in notifications(committed)} == {"delivered"}, timeout=30)
    finally:
        engine.dispose()
    assert len(notifications(committed)) == 40
