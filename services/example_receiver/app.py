"""The receiver's web app: ``POST /hooks/<department>`` takes events; ``/`` and ``/inbox/<id>`` show them.

Run it with ``tellusonce receiver`` (on TELLUSONCE_RECEIVER_LISTEN) or
``gunicorn "tellusonce_services.example_receiver.app:create_receiver_app()"``. It reads the same
registry and settings as the service: each department's signing secrets come
from the environment variable its registry entry names (in demo and test mode
they are derived as the dispatcher derives them). The feed departments are not
sent anything: the receiver pulls their feeds through the department API, as
their own systems would (``tellusonce_services.example_receiver.feed``), and shows and acknowledges
those events beside the webhooks'.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask, Response, abort, jsonify, render_template_string, request
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from tellusonce.domain.events import PING_TYPE, EventError, parse_event
from tellusonce.settings import Settings
from tellusonce_services.dispatch.signing import MissingSecret, department_secrets
from tellusonce_services.example_receiver.acker import Acker
from tellusonce_services.example_receiver.feed import FeedPuller
from tellusonce_services.example_receiver.setup import keys_path
from tellusonce_services.example_receiver.store import Store
from tellusonce_services.registry import load_registry

log = logging.getLogger(__name__)
MAX_BODY = 1024 * 1024


@dataclass(frozen=True)
class ReceiverDepartment:
    id: str
    name: str
    secret_env: str | None
    channel: str = "webhook"


def create_receiver_app(settings: Settings | None = None, *, start_acker: bool = True,
                        ack_interval: float = 1.0) -> Flask:
    settings = settings or Settings.from_env()
    registry = load_registry(settings.departments, receiver_url=f"http://{settings.receiver_listen}")
    shown = {e.id: ReceiverDepartment(e.id, e.name, e.secret_env, e.channel)
             for e in registry.departments if e.channel in ("webhook", "feed")}
    departments = {d.id: d for d in shown.values() if d.channel == "webhook"}  # those that POST to /hooks
    store = Store(Path(settings.instance_path) / "receiver.sqlite3")
    app = Flask("tellusonce_receiver")
    app.config.update(MAX_CONTENT_LENGTH=MAX_BODY, SECRET_KEY=settings.secret_key)
    feeds = FeedPuller(store, api_url=settings.base_url, keys_file=keys_path(settings),
                       departments=[d.id for d in shown.values() if d.channel == "feed"])
    acker = Acker(store, api_url=settings.base_url, keys_file=keys_path(settings), interval=ack_interval,
                  feeds=feeds)
    app.extensions["receiver"] = {"store": store, "acker": acker, "feeds": feeds, "departments": departments}
    if start_acker:
        acker.start()

    @app.post("/hooks/<department_id>")
    def receive(department_id: str) -> tuple[Response, int]:
        department = departments.get(department_id)
        if department is None:
            return jsonify(error=f"no department {department_id} here"), 404
        return _receive(department, settings=settings, store=store, acker=acker)

    @app.get("/")
    def index() -> str:
        counts = store.counts()
        return render_template_string(INDEX, departments=shown.values(), counts=counts)

    @app.get("/inbox/<department_id>")
    def inbox(department_id: str) -> str:
        department = shown.get(department_id)
        if department is None:
            abort(404)
        return render_template_string(INBOX, department=department, events=store.inbox(department_id),
                                      fields=_fields)

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Cache-Control"] = "no-store"
        return response

    return app


def _receive(department: ReceiverDepartment, *, settings: Settings, store: Store,
             acker: Acker) -> tuple[Response, int]:
    """Verify, read and keep the event POSTed for ``department``, as a department's endpoint would."""
    body = request.get_data(cache=False)
    headers = {k.lower(): v for k, v in request.headers.items()}
    try:
        secrets = department_secrets(settings, department.id, department.secret_env)
    except MissingSecret as e:
        log.error("cannot verify events for %s: %s", department.id, e)
        return jsonify(error="this receiver has no signing secret for the department"), 503
    problem = _verify(body, headers, secrets)
    if problem:
        log.warning("refused an event for %s: %s", department.id, problem, extra={"department": department.id})
        return jsonify(error=problem), 401
    try:
        event = parse_event(body)
    except EventError as e:
        return jsonify(error=str(e)), 400
    webhook_id = headers["webhook-id"]
    if event.get_id() != webhook_id:
        return jsonify(error="the event id is not the webhook-id"), 400
    if event.get_type() == PING_TYPE:
        return jsonify(received=webhook_id, ping=True), 200  # a test: nothing to keep or acknowledge
    new = store.add(webhook_id=webhook_id, department=department.id, type_=event.get_type(),
                    subject=event.get_subject() or "", body=body)
    if new:
        acker.wake()
    return jsonify(received=webhook_id, duplicate=not new), 200


def _verify(body: bytes, headers: dict[str, str], secrets: list[str]) -> str | None:
    """None when some secret verifies the signature and the timestamp is within 5 minutes."""
    problem = "no signature matches"
    for secret in secrets:
        try:
            Webhook(secret).verify(body, headers, json_parse=False)
            return None
        except WebhookVerificationError as e:
            problem = str(e)
            if "timestamp" in problem.lower() or "headers" in problem.lower():
                return problem
        except (ValueError, UnicodeDecodeError):
            return "malformed signature headers"
    return problem


def _fields(body: str) -> list[tuple[str, Any]]:
    data = json.loads(body).get("data") or {}
    return sorted(data.items())


INDEX = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Department receiver</title>
<style>body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em}
table{border-collapse:collapse}td,th{border-bottom:1px solid #ccc;padding:.3em .8em;text-align:left}</style></head>
<body><h1>Department receiver</h1>
<p>Notifications from Tell us once, as each department's systems would receive them: signed webhooks,
or fetched from the department's feed through the API.</p>
<table><thead><tr><th>Department</th><th>How it gets them</th><th>Events</th><th>Not yet acknowledged</th></tr></thead><tbody>
{% for d in departments %}<tr><td><a href="/inbox/{{ d.id }}">{{ d.name }}</a></td>
<td>{{ "fetches its feed" if d.channel == "feed" else "webhook" }}</td>
<td>{{ counts.get(d.id, (0, 0))[0] }}</td><td>{{ counts.get(d.id, (0, 0))[1] }}</td></tr>{% endfor %}
</tbody></table></body></html>"""

INBOX = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Inbox: {{ department.name }}</title>
<style>body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em}
section{border:1px solid #ccc;padding:.5em 1em;margin:1em 0}dt{font-weight:bold}dd{margin:0 0 .4em 0}</style></head>
<body><p><a href="/">All departments</a></p><h1>{{ department.name }}</h1>
{% if not events %}<p>No notifications yet.</p>{% endif %}
{% for e in events %}<section><h2>{{ e.subject }}: {{ e.type }}</h2>
<p>{{ "Fetched" if department.channel == "feed" else "Received" }} {{ e.received_at }}{% if e.deliveries > 1 %} (delivered {{ e.deliveries }} times, kept once){% endif %}.
{% if e.acked_at and not e.ack_error %}Acknowledged {{ e.acked_at }}.{% elif e.ack_error %}Acknowledgement: {{ e.ack_error }}.{% else %}Not acknowledged yet.{% endif %}</p>
<dl>{% for name, value in fields(e.body) %}<dt>{{ name }}</dt><dd>{{ value }}</dd>{% endfor %}</dl>
<p><small>webhook-id {{ e.webhook_id }}</small></p></section>{% endfor %}
</body></html>"""
