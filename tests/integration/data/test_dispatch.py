"""A department's delivery health: the circuit breaker's arithmetic."""

from __future__ import annotations

from datetime import timedelta

from tellusonce.data.dispatch import BREAKER_THRESHOLD, note_delivery_health
from tellusonce.models import Department
from tests.factories import NOW


def test_the_circuit_opens_after_five_failures_doubles_with_each_failed_trial_and_closes_on_success(db_session):
    health = note_delivery_health(db_session, "dvla", succeeded=False, failures=BREAKER_THRESHOLD - 1, now=NOW)
    assert not health.opened and health.consecutive_failures == 4
    health = note_delivery_health(db_session, "dvla", succeeded=False, failures=3, now=NOW)
    assert health.circuit_open_until == NOW + timedelta(seconds=30) and health.consecutive_failures == 5
    health = note_delivery_health(db_session, "dvla", succeeded=False, failures=1, now=NOW)
    assert health.circuit_open_until == NOW + timedelta(seconds=60)
    for _ in range(10):
        health = note_delivery_health(db_session, "dvla", succeeded=False, failures=1, now=NOW)
    assert health.circuit_open_until == NOW + timedelta(minutes=10)
    note_delivery_health(db_session, "dvla", succeeded=True, failures=0, now=NOW)
    dvla = db_session.get(Department, "dvla")
    db_session.refresh(dvla)
    assert dvla.consecutive_failures == 0 and dvla.circuit_open_until is None
