"""Helpers for dispatch tests: a real HTTP server on 127.0.0.1 playing the departments,
functions to queue and dispatch, ``tellusonce dispatch`` as a process of its own
(``worker_process``, for the drills), and the processes a process has started
(``living_children``, for the drills and the gunicorn tests). The fixtures are in tests/integration/conftest.py.

``DepartmentServer`` answers ``POST /hooks/<department>`` as each department has
been told to behave: 200, a status with headers (500, 503 + Retry-After, 410),
a hang past the client's timeout, or a slow trickle. It records every request
(and how many for one webhook-id were in flight at once).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select, update

from tellusonce.application.cancellation import cancel_report
from tellusonce.application.correction import correct_report
from tellusonce.application.intake import ChangeRequest, submit_change
from tellusonce.cli import main
from tellusonce.db import transaction
from tellusonce.models import ChangeReport, Citizen, Department, Notification, NotificationState, WorkerHeartbeat
from tellusonce.settings import PROJECT_ROOT, Settings
from tellusonce_services.dispatch.webhook import WebhookSender
from tellusonce_services.dispatch.worker import Stats, Worker, WorkerConfig
from tellusonce_services.registry import load_registry, sync_registry
from tests.conftest import REGISTRY, TEST_SECRET_KEY
from tests.factories import NOW, address_answers, clock_env, make_citizen

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
    status: int | None = None  # what it was answered, once answered
    answered: float | None = None  # when (monotonic)


@dataclass
class Behaviour:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    hang: float = 0.0  # seconds to wait before answering
    trickle: float = 0.0  # seconds between bytes of the answer
    delay: float = 0.0  # a short think before answering 2xx
    fail_first: int = 0  # answer 503 to the first this many requests of each webhook-id, then ``status``


class DepartmentServer:
    def __init__(self) -> None:
        self.behaviour: dict[str, Behaviour] = {}
        self.received: list[Received] = []
        self.in_flight: dict[str, int] = {}
        self.tries: dict[str, int] = {}  # requests seen for each webhook-id
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
                behaviour = server.behaviour.get(department, Behaviour())
                with server.lock:
                    received = Received(department, headers, body, time.monotonic())
                    server.received.append(received)
                    server.in_flight[webhook_id] = server.in_flight.get(webhook_id, 0) + 1
                    server.max_in_flight_per_id = max(server.max_in_flight_per_id, server.in_flight[webhook_id])
                    server.tries[webhook_id] = server.tries.get(webhook_id, 0) + 1
                    if server.tries[webhook_id] <= behaviour.fail_first:
                        behaviour = Behaviour(status=503, delay=behaviour.delay)
                try:
                    self._answer(behaviour)
                finally:
                    with server.lock:
                        server.in_flight[webhook_id] -= 1
                        received.status = behaviour.status
                        received.answered = time.monotonic()

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


def cancel(engine: Engine, report_id: Any, *, now: datetime) -> None:
    """The citizen who made the report cancels it, as its page would."""
    with transaction(engine) as session:
        report = session.get_one(ChangeReport, report_id)
        cancel_report(session, session.get_one(Citizen, report.citizen_id), report, now=now)


def correct(engine: Engine, report_id: Any, *, now: datetime, **changes: Any) -> None:
    """The citizen who made the report corrects it: its answers with ``changes``."""
    with transaction(engine) as session:
        report = session.get_one(ChangeReport, report_id)
        correct_report(session, session.get_one(Citizen, report.citizen_id), report,
                       {**report.answers, **changes}, now=now)


def api_key(runner: Any, department: str, *, label: str = "tests") -> str:
    """A new API key of ``department``'s, made as an operator makes one (``departments key``)."""
    result = runner.invoke(main, ["departments", "key", department, "--label", label])
    assert result.exit_code == 0, result.output
    return str(result.output.strip().splitlines()[0])


def api_headers(runner: Any, department: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key(runner, department)}"}


def notifications(engine: Engine) -> list[Notification]:
    with transaction(engine, writer=False) as session:
        return list(session.scalars(select(Notification)))


def all_delivered(engine: Engine) -> bool:
    return {n.state for n in notifications(engine)} == {NotificationState.DELIVERED}


def running_workers(engine: Engine) -> int:
    """How many workers say, by their heartbeat, that they are running."""
    with transaction(engine, writer=False) as session:
        return len(session.scalars(select(WorkerHeartbeat).where(WorkerHeartbeat.stopped_at.is_(None))).all())


def states(engine: Engine) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for n in notifications(engine):
        result.setdefault(n.department_id, []).append(n.state)
    return {k: sorted(v) for k, v in result.items()}


def deliver_one(engine: Engine, settings: Settings, department: str = "dvla", **dispatch: Any) -> Notification:
    """One change told to ``department``, then the worker run once (``dispatch_once``): its notification
    as it then stands."""
    submit(engine, (department,))
    dispatch_once(engine, settings, **dispatch)
    [notification] = notifications(engine)
    return notification


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


@contextmanager
def worker_process(database_url: str, tmp_path: Path, *args: str,
                   new_session: bool = False) -> Iterator[subprocess.Popen[bytes]]:
    """``tellusonce dispatch`` in its own process (and, with ``new_session``, its own process
    group, as a terminal would start it); killed and reaped however the test ends. Its output
    goes to ``worker-<n>.log`` in ``tmp_path``."""
    env = dict(os.environ, **clock_env(), TELLUSONCE_MODE="test", TELLUSONCE_SECRET_KEY=TEST_SECRET_KEY,
               TELLUSONCE_DATABASE_URL=database_url, TELLUSONCE_INSTANCE_PATH=str(tmp_path / "instance"))
    log = (tmp_path / f"worker-{len(list(tmp_path.glob('worker-*')))}.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "tellusonce.cli", "dispatch", *args],
                               cwd=PROJECT_ROOT, env=env, stdout=log, stderr=log, start_new_session=new_session)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGCONT)
            process.kill()
        process.wait(timeout=30)
        log.close()


def worker_log(tmp_path: Path) -> str:
    """What the ``worker_process`` workers of a test wrote."""
    return "".join(p.read_text(errors="replace") for p in sorted(tmp_path.glob("worker-*.log")))


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
