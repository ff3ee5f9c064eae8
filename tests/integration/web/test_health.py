"""/healthz tells the truth about delivery: "degraded", with the reasons, while a department's circuit
is open, an endpoint is disabled or dead letters pile up; still 200, as the web pages still serve."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from tellusonce.clock import utcnow
from tellusonce.data.dispatch import beat
from tellusonce.db import transaction
from tellusonce.models import Department, Notification, NotificationState
from tests.dispatch_helpers import submit


@pytest.fixture
def beating(committed):
    """A dispatch worker that has just beaten, so that delivery alone decides the status."""
    with transaction(committed) as session:
        beat(session, worker="test-worker", started_at=utcnow(), now=utcnow())
    return committed


def set_department(engine, department_id: str, **values) -> None:
    with transaction(engine) as session:
        session.execute(update(Department).where(Department.id == department_id).values(**values))


def health(client) -> dict:
    response = client.get("/healthz")
    assert response.status_code == 200
    return response.json


def test_healthz_is_ok_with_a_live_worker_and_nothing_failing(beating, client):
    body = health(client)
    assert body["status"] == "ok" and body["reasons"] == []


@pytest.mark.parametrize("open_until", [timedelta(minutes=5), -timedelta(seconds=1)], ids=["open", "trying-again"])
def test_healthz_is_degraded_while_a_departments_circuit_is_open(beating, client, open_until):
    set_department(beating, "dvla", consecutive_failures=7, circuit_open_until=utcnow() + open_until)
    body = health(client)
    assert body["status"] == "degraded"
    assert body["departments"]["circuit_open"] == ["dvla"]
    [reason] = body["reasons"]
    assert reason.startswith("dvla: ") and "circuit" in reason and "7 failures in a row" in reason


def test_healthz_is_degraded_while_an_endpoint_is_disabled_and_says_how_to_enable_it(beating, client):
    set_department(beating, "hmrc", endpoint_disabled_at=utcnow() - timedelta(days=3),
                   endpoint_disabled_reason="410 Gone from https://hmrc.internal.example/hook")
    body = health(client)
    assert body["status"] == "degraded" and body["departments"]["endpoint_disabled"] == ["hmrc"]
    [reason] = body["reasons"]
    assert reason.startswith("hmrc: ") and "disabled" in reason and "tellusonce departments enable hmrc" in reason
    assert "internal.example" not in client.get("/healthz").get_data(as_text=True)


def test_healthz_is_degraded_while_dead_letters_younger_than_a_day_exist(beating, client):
    told = {n.department_id: n for n in submit(beating, ("dvla", "hmrc", "dwp"))}
    with transaction(beating) as session:
        for department, age in (("dvla", timedelta(hours=1)), ("hmrc", timedelta(hours=23)), ("dwp", timedelta(days=2))):
            session.execute(update(Notification).where(Notification.id == told[department].id)
                            .values(state=NotificationState.DEAD, dead_at=utcnow() - age))
    body = health(client)
    assert body["status"] == "degraded"
    assert body["dead_letters"] == {"last_day": 2, "by_department": {"dvla": 1, "hmrc": 1}}
    [reason] = body["reasons"]
    assert reason.startswith("2 dead letters in the last 24 hours") and "dead-letters list" in reason


def test_dead_letters_older_than_a_day_leave_healthz_ok(beating, client):
    [dvla] = submit(beating, ("dvla",))
    with transaction(beating) as session:
        session.execute(update(Notification).where(Notification.id == dvla.id)
                        .values(state=NotificationState.DEAD, dead_at=utcnow() - timedelta(hours=25)))
    body = health(client)
    assert body["status"] == "ok" and body["dead_letters"]["last_day"] == 0


def test_healthz_gives_every_reason_at_once(committed, client):
    set_department(committed, "dvla", consecutive_failures=5, circuit_open_until=utcnow() + timedelta(seconds=30))
    set_department(committed, "hmrc", endpoint_disabled_at=utcnow())
    body = health(client)
    assert body["status"] == "degraded" and len(body["reasons"]) == 3
    assert body["reasons"][0].startswith("No dispatch worker")
