"""Helpers for dispatch tests: a real HTTP server on 127.0.0.1 playing the departments,
functions to queue and dispatch, and the processes a process has started (``living_children``,
for the drills and the gunicorn tests). The fixtures are in tests/integration/conftest.py.

``DepartmentServer`` answers ``POST /hooks/<department>`` as each department has
been told to behave: 200, a status with headers (500, 503 + Retry-After, 410),
a hang past the client's timeout, or a slow trickle. It records every request
(and how many for one webhook-id were in flight at once).
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select, update

from tellusonce.application.intake import ChangeRequest, submit_change
from tellusonce.db import transaction
from tellusonce.models import Department, Notification
from tellusonce.settings import Settings
from tellusonce_services.dispatch.webhook import WebhookSender
from tellusonce_services.dispatch.worker import Stats, Worker, WorkerConfig
from tellusonce_services.registry import load_registry, sync_registry
from tests.conftest import REGISTRY
from tests.factories import NOW, address_answers, make_citizen

WEBHOOK_DEPARTMENTS = ("dvla", "hmrc", "dwp", "hmpo", "leeds-council-tax", "leeds-electoral-registration")


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # the default of 5 drops connections made all at once
    daemon_threads = True


@dataclass
class Received:
    department: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Behaviour:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    hang: float = 0.0  # seconds to wait before answering
    trickle: float = 0.0  # seconds between bytes of the answer
    delay: float = 0.0  # a short think before answering 2xx


class DepartmentServer:
    def __init__(self) -> None:
        self.behaviour: dict[str, Behaviour] = {}
        self.received: list[Received] = []
        self.in_flight: dict[str, int] = {}
        self.max_in_flight_per_id = 0
        self.lock = threading.Lock()
        self.released = threading.Event()
        self.httpd = _Server(("127.0.0.1", 0), self._handler())
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def url(self, department: str) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/{department}"

    def behave(self, department: str, status: int = 200, **kwargs: Any) -> None:
        self.behaviour[department] = Behaviour(status=status, **kwargs)

    def bodies(self, department: str | None = None) -> list[dict[str, Any]]:
        return [json.loads(r.body) for r in self.received if department is None or r.department == department]

    def ids(self, department: str | None = None) -> list[str]:
        return [r.headers["webhook-id"] for r in self.received if department is None or r.department == department]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                department = self.path.rsplit("/", 1)[-1]
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                webhook_id = headers.get("webhook-id", "")
                with server.lock:
                    server.received.append(Received(department, headers, body, time.monotonic()))
                    server.in_flight[webhook_id] = server.in_flight.get(webhook_id, 0) + 1
                    server.max_in_flight_per_id = max(server.max_in_flight_per_id, server.in_flight[webhook_id])
                try:
                    self._answer(server.behaviour.get(department, Behaviour()))
                finally:
                    with server.lock:
                        server.in_flight[webhook_id] -= 1

            def _answer(self, b: Behaviour) -> None:
                if b.hang:
                    server.released.wait(b.hang)
                if b.delay:
                    time.sleep(b.delay)
                text = b"{}" if b.status < 300 else b'{"error": "no"}'
                head = f"HTTP/1.1 {b.status} X\r\nContent-Type: application/json\r\nContent-Length: {len(text)}\r\n"
                head += "".join(f"{k}: {v}\r\n" for k, v in b.headers.items()) + "\r\n"
                raw = head.encode() + text
                try:
                    if b.trickle:
                        for i in range(len(raw)):
                            self.wfile.write(raw[i:i + 1])
                            self.wfile.flush()
                            if server.released.wait(b.trickle):
                                return
                    else:
                        self.wfile.write(raw)
                except OSError:
                    self.close_connection = True

        return Handler

    def __enter__(self) -> DepartmentServer:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.released.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


def free_port() -> int:
    """A port nobody listens on (bound, then closed): connections to it are refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def reset_departments(engine: Engine) -> None:
    with transaction(engine) as session:
        sync_registry(session, load_registry(REGISTRY))
        session.execute(update(Department).values(consecutive_failures=0, circuit_open_until=None,
                                                  endpoint_disabled_at=None, endpoint_disabled_reason=None))


def point_at(engine: Engine, server: DepartmentServer, departments: tuple[str, ...] = WEBHOOK_DEPARTMENTS,
             url: Callable[[str], str] | None = None) -> None:
    with transaction(engine) as session:
        for d in departments:
            session.execute(update(Department).where(Department.id == d)
                            .values(webhook_url=(url or server.url)(d), allow_private_network=True))


def submit(engine: Engine, recipients: tuple[str, ...], *, count: int = 1, now: datetime = NOW,
           change_type: str = "address") -> list[Notification]:
    """Report ``count`` changes (one citizen each), telling ``recipients`` with one-off consent."""
    with transaction(engine) as session:
        for i in range(count):
            citizen = make_citizen(session)
            submit_change(session, citizen, ChangeRequest(
                change_type=change_type, answers=address_answers(), recipients=list(recipients),
                consent={d: "once" for d in recipients}, channel="web", submission_key=f"k-{i}",
            ), now=now)
        return list(session.scalars(select(Notification).order_by(Notification.created_at)))


def notifications(engine: Engine) -> list[Notification]:
    with transaction(engine, writer=False) as session:
        return list(session.scalars(select(Notification)))


def states(engine: Engine) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for n in notifications(engine):
        result.setdefault(n.department_id, []).append(n.state)
    return {k: sorted(v) for k, v in result.items()}


# The workers here run their database side on a thread unless a test asks for the process: the
# same functions, without spawning a process per test. The process is covered by
# services/dispatch/test_worker_db.py and by the drills, which run `tellusonce dispatch`.


def dispatch_once(engine: Engine, settings: Settings, *, now: datetime = NOW, total_timeout: float = 10.0,
                  name: str | None = None, **config: Any) -> Stats:
    async def go() -> Stats:
        sender = WebhookSender().init(settings, connect_timeout=5.0, total_timeout=total_timeout)
        try:
            worker = Worker(engine, settings, sender=sender, clock=lambda: now, name=name,
                            config=WorkerConfig(**{"poll_interval": 0.05, "database_process": False, **config}))
            return await worker.run(once=True)
        finally:
            await sender.close()

    return asyncio.run(go())


class BackgroundWorker:
    """A real worker running its own event loop in a thread, until ``stop()`` (as SIGTERM would)."""

    def __init__(self, engine: Engine, settings: Settings, *, total_timeout: float = 10.0, **config: Any) -> None:
        self.engine = engine
        self.settings = settings
        self.total_timeout = total_timeout
        self.config = WorkerConfig(**{"poll_interval": 0.05, "heartbeat_interval": 0.2, "database_process": False, **config})
        self.worker: Worker | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stats: Stats | None = None
        self.started = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        async def go() -> None:
            sender = WebhookSender().init(self.settings, connect_timeout=5.0, total_timeout=self.total_timeout)
            try:
                self.worker = Worker(self.engine, self.settings, sender=sender, config=self.config)
                self.loop = asyncio.get_running_loop()
                self.started.set()
                self.stats = await self.worker.run()
            finally:
                await sender.close()

        asyncio.run(go())

    def __enter__(self) -> BackgroundWorker:
        self.thread.start()
        assert self.started.wait(10)
        return self

    def stop(self) -> Stats | None:
        if self.thread.is_alive():
            assert self.loop is not None and self.worker is not None
            self.loop.call_soon_threadsafe(self.worker.request_stop)
            self.thread.join(timeout=30)
        return self.stats

    def __exit__(self, *_: object) -> None:
        self.stop()


def wait_for(condition: Callable[[], bool], timeout: float = 10.0, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(interval)


class ServedApp:
    """A WSGI app served over real HTTP on 127.0.0.1 (an ephemeral port) from a thread."""

    def __init__(self, app: Any) -> None:
        from werkzeug.serving import make_server

        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> ServedApp:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def living_children(pid: int) -> set[int]:
    """The processes whose parent is ``pid`` and that have not ended (zombies do not count)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                state, parent = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:2]
            except (OSError, ValueError):
                continue  # it ended while we looked
            if int(parent) == pid and state != "Z":
                found.add(int(entry.name))
    return found
