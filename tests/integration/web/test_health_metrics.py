"""Watching dispatch: /metrics in Prometheus format and the worker heartbeat in /healthz."""

from __future__ import annotations

import dataclasses

from prometheus_client.parser import text_string_to_metric_families

from tellusonce import create_app
from tests.dispatch_helpers import BackgroundWorker, dispatch_once, point_at, submit, wait_for


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_metrics_show_queues_attempts_latency_and_oldest_wait(committed, settings, department_server, client):
    point_at(committed, department_server)
    department_server.behave("hmrc", 500)
    submit(committed, ("dvla", "hmrc", "meadow-lane-surgery"))
    dispatch_once(committed, settings)
    response = client.get("/metrics")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    samples = _samples(response.get_data(as_text=True))
    assert samples[("tellusonce_notifications", (("department", "dvla"), ("state", "delivered")))] == 1
    assert samples[("tellusonce_notifications", (("department", "hmrc"), ("state", "retrying")))] == 1
    assert samples[("tellusonce_delivery_attempts_total", (("outcome", "delivered"),))] == 1
    assert samples[("tellusonce_delivery_attempts_total", (("outcome", "retry"),))] == 1
    assert samples[("tellusonce_delivery_latency_seconds_count", ())] == 2
    assert samples[("tellusonce_delivery_latency_seconds_bucket", (("le", "+Inf"),))] == 2
    assert ("tellusonce_oldest_pending_age_seconds", (("department", "hmrc"),)) in samples
    assert ("tellusonce_oldest_pending_age_seconds", (("department", "dvla"),)) not in samples
    assert samples[("tellusonce_department_circuit_open", (("department", "hmrc"),))] == 0
    assert "Okafor" not in response.get_data(as_text=True)


def test_metrics_need_the_token_when_one_is_set(settings, engine):
    app = create_app(dataclasses.replace(settings, metrics_token="a-long-metrics-token"))
    try:
        client = app.test_client()
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert client.get("/metrics", headers={"Authorization": "Bearer a-long-metrics-token"}).status_code == 200
    finally:
        app.extensions["tellusonce.engine"].dispose()


def test_healthz_shows_a_running_worker_and_forgets_it_when_it_stops(committed, settings, client):
    with BackgroundWorker(committed, settings):
        wait_for(lambda: client.get("/healthz").json["worker"]["state"] == "ok")
        body = client.get("/healthz").json
        assert body["status"] == "ok" and body["worker"]["running"] == 1
    body = client.get("/healthz").json
    assert body["worker"]["state"] == "none" and body["status"] == "degraded"
