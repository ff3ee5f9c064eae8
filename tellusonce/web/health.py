"""Health and metrics for operators: /healthz and /metrics (Prometheus text format).

``/healthz`` answers 503 when the database cannot be reached: this process cannot
serve, and a load balancer should send its requests elsewhere. Otherwise it answers
200 with ``"status": "ok"``, or ``"degraded"`` with ``"reasons"`` (one sentence each)
while delivery is in trouble: no dispatch worker beating (its heartbeat: "ok" in the
last 30 seconds, "stale", or "none" ever), a department's circuit open (or being
tried again after it was), a department's endpoint disabled by 410 Gone, or dead
letters younger than a day. Degraded is still 200: the pages and the API still work,
and taking every web process out of a load balancer because a department is down
would stop citizens reporting too; monitoring alerts on the status instead.

``/metrics`` is computed from the database at each scrape, so it shows every worker's
work; when ``TELLUSONCE_METRICS_TOKEN`` is set it answers only to
``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from datetime import datetime, timedelta

from flask import Blueprint, Response, current_app, jsonify, request
from flask_babel import gettext as _
from flask_babel import ngettext
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import text
from sqlalchemy.orm import Session

from tellusonce.clock import utcnow
from tellusonce.data import stats
from tellusonce.data.dispatch import WorkerStatus, worker_status
from tellusonce.web.database import get_session

bp = Blueprint("health", __name__)

# Dead letters this recent make /healthz say "degraded": new ones are news; older ones an operator
# has had a day to see (and `tellusonce dead-letters list` still shows them).
DEAD_LETTERS_WINDOW = timedelta(days=1)


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    session = get_session()
    now = utcnow()
    try:
        session.execute(text("SELECT 1"))
        worker = worker_status(session, now=now)
        troubles = stats.department_troubles(session)
        dead = stats.dead_letters_since(session, now - DEAD_LETTERS_WINDOW)
    except Exception:  # noqa: BLE001 - any failure means "not healthy"
        return jsonify(status="unavailable", database="unreachable"), 503
    reasons = _reasons(worker, troubles, dead)
    body = {
        "status": "degraded" if reasons else "ok",
        "reasons": reasons,
        "database": "ok",
        "worker": {"state": worker.state, "running": worker.running,
                   "last_beat": worker.last_beat.isoformat() if worker.last_beat else None},
        "departments": {
            "circuit_open": [t.department_id for t in troubles if t.circuit_open_until is not None],
            "endpoint_disabled": [t.department_id for t in troubles if t.endpoint_disabled_at is not None],
        },
        "dead_letters": {"last_day": sum(dead.values()), "by_department": dead},
    }
    return jsonify(body), 200


def _reasons(worker: WorkerStatus, troubles: list[stats.DepartmentTrouble], dead: dict[str, int]) -> list[str]:
    """Why delivery is not healthy, one sentence each, for the operator who reads the answer."""
    reasons = []
    if worker.state == "none":
        reasons.append(_("No dispatch worker has run: nothing is being sent to departments."))
    elif worker.state == "stale":
        reasons.append(_("No dispatch worker has beaten since %(when)s: nothing is being sent to departments.",
                         when=_iso(worker.last_beat)))
    for t in troubles:
        if t.circuit_open_until is not None:
            reasons.append(_("%(department)s: circuit open after %(failures)d failures in a row; its notifications "
                             "wait, then one is tried (from %(when)s) and a success closes it.",
                             department=t.department_id, failures=t.consecutive_failures,
                             when=_iso(t.circuit_open_until)))
        if t.endpoint_disabled_at is not None:
            reasons.append(_("%(department)s: endpoint disabled since %(when)s, after it answered 410 Gone; nothing "
                             "is sent to it until `tellusonce departments enable %(department)s`.",
                             department=t.department_id, when=_iso(t.endpoint_disabled_at)))
    if dead:
        count = sum(dead.values())
        reasons.append(ngettext("%(num)d dead letter in the last 24 hours (%(departments)s): see "
                                "`tellusonce dead-letters list`.",
                                "%(num)d dead letters in the last 24 hours (%(departments)s): see "
                                "`tellusonce dead-letters list`.", count,
                                departments=", ".join(f"{d} {n}" for d, n in dead.items())))
    return reasons


def _iso(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value else "?"


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
        for department, created in stats.oldest_waiting(session, now=now):
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
