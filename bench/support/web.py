"""What the web benchmarks (``intake.py``, ``intake_floor.py``, ``journey_pages.py``) share: the
databases they run on, the citizens who sign in, the apps under gunicorn, the 32 clients and
their timings, and the ceiling app.

Each benchmark sends its work as lists of requests, one list a client, each client sending its
requests one after another (``fire``); the apps take turns (``take_turns``), a share of the work
each turn, so that a shared machine's good and bad moments fall on all alike. It lives outside
``bench/*.py`` so that ``make bench`` does not take it for a benchmark.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import signal
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, insert, select

from tellusonce.clock import utcnow
from tellusonce.db import make_engine, session_factory, transaction
from tellusonce.domain.passwords import hash_password
from tellusonce.migrate import wipe_and_upgrade
from tellusonce.models import Citizen
from tellusonce_services.registry import load_registry, sync_registry

ROOT = Path(__file__).resolve().parent.parent.parent
CLIENTS = 32
ROUNDS = 3  # turns each app takes, in alternation
WORKERS = max(2, 2 * (os.cpu_count() or 1))
PASSWORD = "benchmark horse battery staple"
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')
COOKIE = "tellusonce_session"
CEILING_ROWS = 100  # the rows the ceiling's GET reads, written by ``prepare``

# One client's work: (path, headers, form data) for each request it sends, in order.
Request = tuple[str, dict[str, str], Any]
Work = list[list[Request]]

ceiling_metadata = MetaData()
ceiling_table = Table(
    "bench_ceiling", ceiling_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("body", String(200)),
    Column("created_at", DateTime(timezone=True)),
)


def ceiling_app() -> Any:
    """The ceiling: a bare Flask app that reads one row by its key (GET ``/read/<row>``) or inserts
    one row (POST ``/insert``), one transaction each (gunicorn "support.web:ceiling_app()")."""
    from flask import Flask, request

    engine = make_engine(os.environ["TELLUSONCE_DATABASE_URL"])
    readers, writers = session_factory(engine), session_factory(engine, writer=True)
    app = Flask("ceiling")

    @app.get("/read/<int:row>")
    def read_one(row: int) -> tuple[str, int]:
        with readers() as session, session.begin():
            body = session.execute(select(ceiling_table.c.body).where(ceiling_table.c.id == row)).scalar_one()
        return body, 200

    @app.post("/insert")
    def insert_one() -> tuple[str, int]:
        with writers() as session, session.begin():
            session.execute(insert(ceiling_table).values(body=request.form.get("body", ""), created_at=utcnow()))
        return "", 201

    return app


def start_bench_app(app: str, name: str, label: str, env: dict[str, str], workdir: Path) -> Gunicorn:
    """A bare app of bench/'s own (``app``: "module:factory()" from bench/) under the same gunicorn
    settings as the project's, its log ``gunicorn-<label>-<name>.log``."""
    return Gunicorn(app, dict(env, PYTHONPATH=str(ROOT)), ROOT / "bench", workdir / f"gunicorn-{label}-{name}.log")


def start_ceiling(label: str, env: dict[str, str], workdir: Path) -> Gunicorn:
    return start_bench_app("support.web:ceiling_app()", "ceiling", label, env, workdir)


STARTED = time.monotonic()


def log(message: str) -> None:
    print(f"{time.monotonic() - STARTED:6.1f}s {message}", file=sys.stderr, flush=True)


def databases() -> list[tuple[str, str | None]]:
    """(label, URL) of each database to run on: SQLite (a fresh file) always, PostgreSQL when given."""
    postgres = os.environ.get("TELLUSONCE_BENCH_DATABASE_URL")
    if not postgres:
        log("TELLUSONCE_BENCH_DATABASE_URL is not set: PostgreSQL is skipped (its schema would be dropped and rebuilt)")
        return [("sqlite", None)]
    return [("sqlite", None), ("postgresql", postgres)]


def fresh_database(url: str | None, workdir: Path) -> str:
    url = url or f"sqlite:///{workdir / 'bench.sqlite3'}"
    wipe_and_upgrade(url)
    return url


def prepare(url: str) -> list[str]:
    """On a migrated database: the registry, the ceiling's table and its rows, and one verified
    citizen per client and two more; their emails."""
    engine = make_engine(url)
    ceiling_metadata.create_all(engine)
    password_hash = hash_password(PASSWORD)
    emails = [f"bench-{i}-{secrets.token_hex(3)}@example.org" for i in range(CLIENTS + 2)]
    with transaction(engine) as session:
        sync_registry(session, load_registry(ROOT / "config" / "departments.toml"))
        for email in emails:
            session.add(Citizen(email=email, password_hash=password_hash, email_verified_at=utcnow(), session_version=0,
                                given_names="Amara", family_name="Okafor", date_of_birth=date(1988, 4, 12),
                                ni_number="AB123456C", address_line_1="12 Hill Street", town="Leeds",
                                postcode="LS1 1AA"))
    with engine.begin() as connection:
        connection.execute(insert(ceiling_table), [{"body": f"row {i}", "created_at": utcnow()}
                                                   for i in range(CEILING_ROWS)])
    engine.dispose()
    return emails


def app_env(label: str, url: str, workdir: Path) -> dict[str, str]:
    """The environment the apps run in: demo mode on ``url``, sign-in limits out of the clients' way."""
    return dict(os.environ, TELLUSONCE_MODE="demo", TELLUSONCE_SECRET_KEY=secrets.token_urlsafe(48),
                TELLUSONCE_DATABASE_URL=url, TELLUSONCE_INSTANCE_PATH=str(workdir / f"instance-{label}"),
                TELLUSONCE_ACCOUNT_RATE_LIMIT="1000000 per minute",
                TELLUSONCE_ACCOUNT_RATE_LIMIT_PER_ADDRESS="1000000 per minute")


class Gunicorn:
    """gunicorn on an ephemeral port (it binds port 0; the port is read from its log).

    Its log (gunicorn's own and the app's) goes to a file, as a deployment's would, rather than
    to a pipe that this process drains: draining it here would take turns for this process's
    one interpreter lock with the clients being timed, and a slow reader stalls the workers.
    """

    def __init__(self, app: str, env: dict[str, str], chdir: Path, log_path: Path) -> None:
        self.log_path = log_path
        with open(log_path, "wb") as log_file:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "--bind", "127.0.0.1:0", "--workers", str(WORKERS),
                 "--chdir", str(chdir), "--log-level", "info", "--no-control-socket", app],
                env=env, stderr=log_file,
            )
        self.url = ""
        deadline = time.monotonic() + 60
        while not self.url:
            match = re.search(r"Listening at: (http://127\.0\.0\.1:\d+)", log_path.read_text(errors="replace"))
            if match:
                self.url = match.group(1)
            elif self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"gunicorn {app} did not start:\n{self.tail()}")
            else:
                time.sleep(0.05)
        while time.monotonic() < deadline:  # until a worker answers
            try:
                urllib.request.urlopen(self.url + "/healthz", timeout=5).close()
                break
            except urllib.error.HTTPError:
                break
            except OSError:
                time.sleep(0.1)

    def tail(self, lines: int = 50) -> str:
        return "".join(self.log_path.read_text(errors="replace").splitlines(keepends=True)[-lines:])

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def csrf_token(body: str) -> str:
    found = CSRF.search(body)
    assert found, "no CSRF token on the page"
    return found.group(1) or found.group(2)


class Journey:
    """One client's session cookie, carried by hand so that journeys stay independent."""

    def __init__(self, http: aiohttp.ClientSession, base: str, cookie: str = "") -> None:
        self.http, self.base, self.cookie = http, base, cookie

    async def request(self, method: str, path: str, data: Any = None, *, expect: int = 200) -> str:
        headers = {"Cookie": f"{COOKIE}={self.cookie}"} if self.cookie else {}
        async with self.http.request(method, self.base + path, data=data, headers=headers, allow_redirects=False) as r:
            body = await r.text()
            if COOKIE in r.cookies:
                self.cookie = r.cookies[COOKIE].value
            if r.status != expect:
                raise RuntimeError(f"{method} {path}: {r.status} (expected {expect}) {body[:300]}")
            return body


async def sign_in(http: aiohttp.ClientSession, base: str, email: str) -> str:
    """Sign ``email`` in through the sign-in form; the session cookie."""
    journey = Journey(http, base)
    token = csrf_token(await journey.request("GET", "/account/sign-in"))
    await journey.request("POST", "/account/sign-in", {"csrf_token": token, "email": email, "password": PASSWORD}, expect=302)
    return journey.cookie


async def signed_in(base: str, emails: Sequence[str]) -> list[str]:
    """The session cookie of each of ``emails``, signed in one after another."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
        return [await sign_in(http, base, e) for e in emails]


async def fire(base: str, method: str, work: Work, expect: int) -> tuple[float, list[float]]:
    """Each client sends its requests one after another, all clients at once; wall time and
    every request's latency (s)."""
    latencies: list[float] = []
    connector = aiohttp.TCPConnector(limit=CLIENTS)
    async with aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar()) as http:

        async def client(items: list[Request]) -> None:
            for path, headers, data in items:
                started = time.perf_counter()
                async with http.request(method, base + path, data=data, headers=headers, allow_redirects=False) as r:
                    await r.read()
                    if r.status != expect:
                        raise RuntimeError(f"{method} {path}: {r.status}")
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(client(items) for items in work))
        return time.perf_counter() - started, latencies


def warm_up(base: str, method: str, work: Work, expect: int) -> Work:
    """Each client sends its first request, not timed (a worker's first requests compile templates
    and statements); the rest of the work."""
    asyncio.run(fire(base, method, [items[:1] for items in work], expect))
    return [items[1:] for items in work]


def take_turns(kinds: Sequence[tuple[str, str, Work, int]], rounds: int = ROUNDS) -> list[Timing]:
    """Time each (base, method, work, expect) in turn, a ``rounds``-th of its work a turn; their timings."""
    timings = [Timing() for _ in kinds]
    for turn in range(rounds):
        for (base, method, work, expect), timing in zip(kinds, timings, strict=True):
            timing.add(*asyncio.run(fire(base, method, [items[turn::rounds] for items in work], expect)))
    return timings


class Timing:
    """One app's timed turns: wall time and every request's latency."""

    def __init__(self) -> None:
        self.wall = 0.0
        self.latencies: list[float] = []
        self.rates: list[float] = []  # each turn's requests per second

    def add(self, wall: float, latencies: list[float]) -> None:
        self.wall += wall
        self.latencies += latencies
        self.rates.append(len(latencies) / wall)

    @property
    def count(self) -> int:
        return len(self.latencies)

    @property
    def per_s(self) -> float:
        return self.count / self.wall

    @property
    def p99_ms(self) -> float:
        return statistics.quantiles(self.latencies, n=100)[98] * 1000

    @property
    def median_ms(self) -> float:
        return statistics.median(self.latencies) * 1000
