"""Health and metrics for operators: /healthz and /metrics (Prometheus text format).

``/healthz`` answers 503 when the database cannot be reached, and reports the
dispatch workers' heartbeat: "ok" (a worker beat in the last 30 seconds),
"stale" (none has since) or "none" (no worker has ever run); without a live
worker the status is "degraded". ``/metrics`` is computed from the database at
each scrape, so it shows every worker's work; when ``TELLUSONCE_METRICS_TOKEN``
is set it answers only to ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator

from flask import Blueprint, Response, current_app, jsonify, request
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import text
from sqlalchemy.orm import Session

from tellusonce.clock import utcnow
from tellusonce.data import stats
from tellusonce.data.dispatch import worker_status
from tellusonce.web.database import get_session

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    session = get_session()
    try:
        session.execute(text("SELECT 1"))
        worker = worker_status(session, now=utcnow())
    except Exception:  # noqa: BLE001 - any failure means "not healthy"
        return jsonify(status="unavailable", database="unreachable"), 503
    body = {
        "status": "ok" if worker.state == "ok" else "degraded",
        "database": "ok",
        "worker": {"state": worker.state, "running": worker.running,
                   "last_beat": worker.last_beat.isoformat() if worker.last_beat else None},
    }
    return jsonify(body), 200


class DatabaseCollector(Collector):
    """Reads the figures from the database when Prometheus scrapes."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def collect(self) -> Iterator[Metric]:
        now = utcnow()
        session = self.session
        by_state = GaugeMetricFamily("tellusonce_notifications", "Notifications by department and state",
                                     labels=["department", "state"])
        for department, state, count in stats.notifications_by_state(session):
            by_state.add_metric([department, state], count)
        yield by_state
        attempts = CounterMetricFamily("tellusonce_delivery_attempts", "Delivery attempts by outcome",
                                       labels=["outcome"])
        for outcome, count in stats.attempts_by_outcome(session):
            attempts.add_metric([outcome], count)
        yield attempts
        latency = stats.delivery_latency(session)
        histogram = HistogramMetricFamily("tellusonce_delivery_latency_seconds",
                                          "Time from sending a notification to the department's answer")
        histogram.add_metric([], [(str(b), n) for b, n in latency.cumulative] + [("+Inf", latency.count)],
                             sum_value=latency.total_seconds)
        yield histogram
        oldest = GaugeMetricFamily("tellusonce_oldest_pending_age_seconds",
                                   "Age of the oldest notification not yet delivered, per department",
                                   labels=["department"])
        for department, created in stats.oldest_waiting(session):
            oldest.add_metric([department], max((now - created).total_seconds(), 0.0))
        yield oldest
        circuit = GaugeMetricFamily("tellusonce_department_circuit_open",
                                    "1 while a department's circuit breaker holds its notifications back",
                                    labels=["department"])
        disabled = GaugeMetricFamily("tellusonce_department_endpoint_disabled",
                                     "1 when a department's endpoint answered 410 Gone and awaits an operator",
                                     labels=["department"])
        for department, is_open, is_disabled in stats.department_flags(session, now=now):
            circuit.add_metric([department], 1.0 if is_open else 0.0)
            disabled.add_metric([department], 1.0 if is_disabled else 0.0)
        yield circuit
        yield disabled
        worker = worker_status(session, now=now)
        workers = GaugeMetricFamily("tellusonce_dispatch_workers", "Dispatch workers that beat in the last 30 s")
        workers.add_metric([], worker.running)
        yield workers
        if worker.last_beat is not None:
            age = GaugeMetricFamily("tellusonce_dispatch_heartbeat_age_seconds",
                                    "Seconds since any dispatch worker last beat")
            age.add_metric([], max((now - worker.last_beat).total_seconds(), 0.0))
            yield age


@bp.get("/metrics")
def metrics() -> Response:
    token = current_app.config["SETTINGS"].metrics_token
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
            return Response("metrics need the bearer token\n", status=401, mimetype="text/plain",
                            headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector(get_session()))
    return Response(generate_latest(registry), mimetype="text/plain; version=0.0.4; charset=utf-8")
