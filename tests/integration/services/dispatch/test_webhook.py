"""The worker against a real department server on 127.0.0.1: every kind of answer."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from standardwebhooks import Webhook

from tellusonce.db import transaction
from tellusonce.domain.events import parse_event
from tellusonce.models import AttemptOutcome, AuditEvent, DeliveryAttempt, Department, NotificationState
from tellusonce_services.dispatch.signing import derived_secret
from tests.conftest import TEST_SECRET_KEY
from tests.dispatch_helpers import deliver_one, dispatch_once, free_port, notifications, point_at, states, submit
from tests.factories import NOW


def _attempts(engine):
    with transaction(engine, writer=False) as session:
        return list(session.scalars(select(DeliveryAttempt).order_by(DeliveryAttempt.started_at)))


def test_dispatch_delivers_a_signed_cloudevent_that_carries_only_the_allowed_fields(committed, settings, departments):
    [queued] = submit(committed, ("dvla",))
    stats = dispatch_once(committed, settings)
    assert stats.delivered == 1
    [request] = departments.received
    assert request.headers["content-type"] == "application/cloudevents+json"
    Webhook(derived_secret(TEST_SECRET_KEY, "dvla")).verify(request.body, request.headers)
    event = parse_event(request.body)
    assert request.headers["webhook-id"] == event.get_id() == str(queued.id)
    assert event.get_type() == "tellusonce.change.address.v1"
    assert event.get_subject().startswith("TUO-")
    assert event.get_dataschema() == f"{settings.base_url}/schemas/events/address.v1.json"
    assert event.get_data() == {**queued.payload, "consent_receipt_id": str(queued.consent_receipt_id)}
    assert "ni_number" not in event.get_data()
    [n] = notifications(committed)
    assert n.state == NotificationState.DELIVERED and n.delivered_at == NOW
    [attempt] = _attempts(committed)
    assert (attempt.outcome, attempt.status_code, attempt.number) == (AttemptOutcome.DELIVERED, 200, 1)


def test_dispatch_retries_in_five_seconds_when_department_returns_500(committed, settings, departments):
    departments.behave("dvla", 500)
    n = deliver_one(committed, settings)
    assert n.state == NotificationState.RETRYING and n.attempt_count == 1
    assert timedelta(seconds=4.4) <= n.next_attempt_at - NOW <= timedelta(seconds=5.6)
    assert n.last_error.startswith("HTTP 500")
    [attempt] = _attempts(committed)
    assert (attempt.outcome, attempt.status_code) == (AttemptOutcome.RETRY, 500)


def test_dispatch_honours_retry_after_when_department_returns_503(committed, settings, departments):
    departments.behave("dvla", 503, headers={"Retry-After": "120"})
    n = deliver_one(committed, settings)
    assert n.state == NotificationState.RETRYING
    assert n.next_attempt_at - NOW == timedelta(seconds=120)


def test_dispatch_disables_the_endpoint_and_alerts_operators_when_department_returns_410(committed, settings, departments):
    departments.behave("dvla", 410)
    n = deliver_one(committed, settings)
    assert n.state == NotificationState.DEAD
    with transaction(committed, writer=False) as session:
        dvla = session.get(Department, "dvla")
        assert dvla.endpoint_disabled_at == NOW and "410" in dvla.endpoint_disabled_reason
        actions = set(session.scalars(select(AuditEvent.action)))
    assert {"department.endpoint_disabled", "notification.dead"} <= actions
    submit(committed, ("dvla", "hmrc"), now=NOW + timedelta(minutes=1))
    departments.received.clear()
    dispatch_once(committed, settings, now=NOW + timedelta(minutes=1))
    assert [r.department for r in departments.received] == ["hmrc"]


def test_dispatch_gives_up_at_once_on_other_4xx(committed, settings, departments):
    departments.behave("dvla", 422)
    n = deliver_one(committed, settings)
    assert n.state == NotificationState.DEAD and n.last_error.startswith("HTTP 422")


def test_dispatch_does_not_follow_a_redirect(committed, settings, departments):
    departments.behave("dvla", 302, headers={"Location": departments.url("hmrc")})
    n = deliver_one(committed, settings)
    assert [r.department for r in departments.received] == ["dvla"]
    assert n.state == NotificationState.RETRYING and "not followed" in n.last_error


def test_dispatch_times_out_a_department_that_hangs(committed, settings, departments):
    departments.behave("dvla", hang=30)
    n = deliver_one(committed, settings, total_timeout=0.5)
    assert n.state == NotificationState.RETRYING and "timed out" in n.last_error
    [attempt] = _attempts(committed)
    assert 400 <= attempt.latency_ms < 25_000  # gave up at its timeout, not at the end of the 30 s hang


def test_dispatch_times_out_a_department_that_answers_one_byte_at_a_time(committed, settings, departments):
    departments.behave("dvla", trickle=0.2)
    n = deliver_one(committed, settings, total_timeout=0.6)
    assert n.state == NotificationState.RETRYING and "timed out" in n.last_error


def test_dispatch_retries_when_the_connection_is_refused(committed, settings, department_server):
    port = free_port()
    point_at(committed, department_server, ("dvla",), url=lambda d: f"http://127.0.0.1:{port}/hooks/{d}")
    n = deliver_one(committed, settings)
    assert n.state == NotificationState.RETRYING and n.last_error.startswith("connection failed")


def test_one_department_failing_does_not_stop_the_others(committed, settings, departments):
    departments.behave("dvla", 500)
    departments.behave("hmrc", hang=30)
    submit(committed, ("dvla", "hmrc", "dwp", "leeds-council-tax"), count=3)
    # Long enough for the others to be answered on a busy machine, far shorter than hmrc's hang.
    dispatch_once(committed, settings, total_timeout=5)
    assert states(committed) == {
        "dvla": ["retrying"] * 3, "hmrc": ["retrying"] * 3,
        "dwp": ["delivered"] * 3, "leeds-council-tax": ["delivered"] * 3,
    }
