"""Intake benchmark: final-step web submissions per second against the floor and a bare insert.

In one run, for SQLite and (with TELLUSONCE_BENCH_DATABASE_URL=postgresql://…, whose
schema this benchmark drops and rebuilds) PostgreSQL, under the same gunicorn
settings and 32 concurrent clients:

1. project: the real app. Each client signs in through the sign-in form, then
   walks report journeys (choose the change, new address, date, three
   organisations) up to "check your answers"; what is timed is the final POST
   alone: CSRF, session, the journey, validation, the report, its three
   notifications, consent events and the confirmation email in one transaction;
2. floor: a bare endpoint doing only CSRF, the session and the rows a submission
   writes, in one transaction (``intake_floor.floor_app``, writing again the rows of
   one of the project's own submissions);
3. ceiling: a bare Flask endpoint (``ceiling_app``) that inserts one row into the
   same database per POST;
   before any is timed, each client sends one request that is not (the workers'
   first requests compile templates and statements). The three apps then run side
   by side and take turns (``ROUNDS``), a third of the work each turn, so that a
   shared machine's good and bad moments fall on all alike;
4. "Your changes" for a citizen with 1,000 reports against one with a single
   report (the page shows 25 at a time).

Prints one JSON line at the end: {"bench": "intake", "floor_ratio": project ÷ floor,
"ratio": project ÷ ceiling, "project_per_s": …, "floor_per_s": …, "ceiling_per_s": …,
"p99_ms": …, "runs": {database: …}} where the headline figures are those of the
database with the lower floor ratio (each database's turn ratios show how steady it
was). The target: floor_ratio ≥ 0.55 on each database, p99 under 250 ms.
TELLUSONCE_BENCH_INTAKE_COUNT sets the submissions per database (default 960). Each
gunicorn's log is a file in the run's temporary directory. Takes a few minutes a
database; not a test (how to run it and the figures: bench/README.md).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, insert, select  # noqa: E402

from tellusonce.application.consent import grant_consent  # noqa: E402
from tellusonce.application.intake import ChangeRequest, submit_change  # noqa: E402
from tellusonce.clock import utcnow  # noqa: E402
from tellusonce.db import make_engine, session_factory, transaction  # noqa: E402
from tellusonce.domain.passwords import hash_password  # noqa: E402
from tellusonce.migrate import wipe_and_upgrade  # noqa: E402
from tellusonce.models import ChangeReport, Citizen, Department  # noqa: E402
from tellusonce_services.registry import load_registry, sync_registry  # noqa: E402

CLIENTS = 32
COUNT = int(os.environ.get("TELLUSONCE_BENCH_INTAKE_COUNT", "960"))
ROUNDS = 3  # turns each app takes, in alternation
WORKERS = max(2, 2 * (os.cpu_count() or 1))
PASSWORD = "benchmark horse battery staple"
RECIPIENTS = ("dvla", "hmrc", "leeds-council-tax")
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')
COOKIE = "tellusonce_session"

ceiling_metadata = MetaData()
ceiling_table = Table(
    "bench_ceiling", ceiling_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("body", String(200)),
    Column("created_at", DateTime(timezone=True)),
)


def ceiling_app() -> Any:
    """The ceiling: a bare Flask endpoint that inserts one row per POST (gunicorn "intake:ceiling_app()")."""
    from flask import Flask, request

    engine = make_engine(os.environ["TELLUSONCE_DATABASE_URL"])
    writers = session_factory(engine, writer=True)
    app = Flask("ceiling")

    @app.post("/insert")
    def insert_one() -> tuple[str, int]:
        with writers() as session, session.begin():
            session.execute(insert(ceiling_table).values(body=request.form.get("body", ""), created_at=utcnow()))
        return "", 201

    return app


STARTED = time.monotonic()


def log(message: str) -> None:
    print(f"{time.monotonic() - STARTED:6.1f}s {message}", file=sys.stderr, flush=True)


def fresh_database(url: str | None, workdir: Path) -> str:
    url = url or f"sqlite:///{workdir / 'intake.sqlite3'}"
    wipe_and_upgrade(url)
    return url


def prepare(url: str) -> list[str]:
    """Registry, the ceiling's table and one verified citizen per client (on a migrated database); their emails."""
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
    engine.dispose()
    return emails


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


def _token(body: str) -> str:
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
    journey = Journey(http, base)
    token = _token(await journey.request("GET", "/account/sign-in"))
    await journey.request("POST", "/account/sign-in", {"csrf_token": token, "email": email, "password": PASSWORD}, expect=302)
    return journey.cookie


async def ready_to_send(http: aiohttp.ClientSession, base: str, signed_in: str, n: int) -> tuple[str, str]:
    """Walk one move up to "check your answers"; the cookie and CSRF token for the final POST."""
    journey = Journey(http, base, signed_in)
    token = _token(await journey.request("GET", "/report/change"))
    today = utcnow().date()
    steps: list[tuple[str, dict[str, Any]]] = [
        ("/report/change", {"change_type": "address"}),
        ("/report/questions/new-address", {"address_line_1": f"{n} Canal Wharf", "town": "Leeds", "postcode": "LS11 5PS"}),
        ("/report/questions/move-date", [("move_date", str(today.day)), ("move_date", str(today.month)),
                                         ("move_date", str(today.year))]),
        ("/report/organisations", [("recipients", d) for d in RECIPIENTS] + [(f"consent-{d}", "once") for d in RECIPIENTS]),
    ]
    for path, data in steps:
        fields = list(data.items()) if isinstance(data, dict) else data
        await journey.request("POST", path, [("csrf_token", token), *fields], expect=302)
    return journey.cookie, token


async def prepare_journeys(base: str, emails: Sequence[str], count: int) -> list[list[tuple[str, str]]]:
    per_client = -(-count // CLIENTS)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
        cookies = await asyncio.gather(*(sign_in(http, base, e) for e in emails[:CLIENTS]))

        async def client(i: int) -> list[tuple[str, str]]:
            return [await ready_to_send(http, base, cookies[i], i * per_client + j) for j in range(per_client)]

        return list(await asyncio.gather(*(client(i) for i in range(CLIENTS))))


async def fire(base: str, path: str, work: list[list[Any]], expect: int) -> tuple[float, list[float]]:
    """Each of the 32 clients sends its requests one after another; wall time and latencies (s)."""
    latencies: list[float] = []
    connector = aiohttp.TCPConnector(limit=CLIENTS)
    async with aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar()) as http:

        async def client(items: list[Any]) -> None:
            for headers, data in items:
                started = time.perf_counter()
                async with http.post(base + path, data=data, headers=headers, allow_redirects=False) as r:
                    await r.read()
                    if r.status != expect:
                        raise RuntimeError(f"POST {path}: {r.status}")
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(client(items) for items in work))
        return time.perf_counter() - started, latencies


def p99(latencies: list[float]) -> float:
    return statistics.quantiles(latencies, n=100)[98] * 1000


def many_reports(url: str, email: str, count: int) -> None:
    """``count`` moves, each told to three organisations under standing consent, through the intake."""
    engine = make_engine(url)
    with transaction(engine) as session:
        citizen = session.scalars(select(Citizen).where(Citizen.email == email)).one()
        for department_id in RECIPIENTS:
            grant_consent(session, citizen_id=citizen.id, department=session.get_one(Department, department_id),
                          change_types=["address"], now=utcnow())
        for i in range(count):
            submit_change(session, citizen, ChangeRequest(
                change_type="address", recipients=list(RECIPIENTS),
                answers={"address_line_1": f"{i} Long Lane", "town": "Leeds", "postcode": "LS11 5PS",
                         "move_date": utcnow().date().isoformat()},
                submission_key=f"many-{i}"))
    engine.dispose()


async def time_page(base: str, cookie: str, path: str, times: int = 30) -> float:
    """Median milliseconds to render ``path`` for a signed-in citizen."""
    durations = []
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
        journey = Journey(http, base, cookie)
        for _ in range(times):
            started = time.perf_counter()
            await journey.request("GET", path)
            durations.append(time.perf_counter() - started)
    return statistics.median(durations) * 1000


def app_env(label: str, url: str, workdir: Path) -> dict[str, str]:
    """The environment the apps run in: demo mode on ``url``, sign-in limits out of the clients' way."""
    return dict(os.environ, TELLUSONCE_MODE="demo", TELLUSONCE_SECRET_KEY=secrets.token_urlsafe(48),
                TELLUSONCE_DATABASE_URL=url, TELLUSONCE_INSTANCE_PATH=str(workdir / f"instance-{label}"),
                TELLUSONCE_ACCOUNT_RATE_LIMIT="1000000 per minute",
                TELLUSONCE_ACCOUNT_RATE_LIMIT_PER_ADDRESS="1000000 per minute")


def _a_report(url: str) -> Any:
    """The id of one report the app wrote (one of the warm-up's): the floor writes its rows again."""
    engine = make_engine(url)
    with engine.connect() as connection:
        report_id = connection.execute(select(ChangeReport.id).limit(1)).scalar_one()
    engine.dispose()
    return report_id


def run(label: str, url: str, workdir: Path) -> dict[str, Any]:
    import intake_floor  # it builds on this module

    log(f"[{label}] preparing the database")
    emails = prepare(url)
    env = app_env(label, url, workdir)
    server = Gunicorn("tellusonce:create_app()", env, ROOT, workdir / f"gunicorn-{label}.log")
    ceiling_server: Gunicorn | None = None
    floor_server: Gunicorn | None = None
    try:
        log(f"[{label}] {CLIENTS} clients walk {COUNT + CLIENTS} journeys up to 'check your answers' (not timed)")
        prepared = asyncio.run(prepare_journeys(server.url, emails, COUNT + CLIENTS))
        work = [[({"Cookie": f"{COOKIE}={cookie}"}, {"csrf_token": token}) for cookie, token in items] for items in prepared]
        log(f"[{label}] warming up: {CLIENTS} final submissions, one per client (not timed)")
        asyncio.run(fire(server.url, "/report/check", [items[:1] for items in work], 303))
        work = [items[1:] for items in work]
        ceiling_server = Gunicorn("intake:ceiling_app()", dict(env, PYTHONPATH=str(ROOT)), ROOT / "bench",
                                  workdir / f"gunicorn-{label}-ceiling.log")
        asyncio.run(fire(ceiling_server.url, "/insert", [[({}, {"body": f"warm-up {i}"})] for i in range(CLIENTS)], 201))
        inserts = [[({}, {"body": f"row {i}-{j}"}) for j in range(len(items))] for i, items in enumerate(work)]
        floor_server = intake_floor.start_floor(label, url, workdir, env, _a_report(url))
        floor_work = asyncio.run(intake_floor.floor_journeys(floor_server.url, COUNT + CLIENTS))
        before = intake_floor.counts(url)
        asyncio.run(fire(floor_server.url, "/submit", [items[:1] for items in floor_work], 303))
        floor_work = [items[1:] for items in floor_work]
        # The three apps take turns, a share of the work each, so that all meet the same machine:
        # on a shared machine one app timed after another can meet a different one.
        project, floor, ceiling = Timing(), Timing(), Timing()
        for turn in range(ROUNDS):
            project.add(*asyncio.run(fire(server.url, "/report/check", [items[turn::ROUNDS] for items in work], 303)))
            floor.add(*asyncio.run(fire(floor_server.url, "/submit", [items[turn::ROUNDS] for items in floor_work], 303)))
            ceiling.add(*asyncio.run(fire(ceiling_server.url, "/insert", [items[turn::ROUNDS] for items in inserts], 201)))
            log(f"[{label}] turn {turn + 1} of {ROUNDS}: project {project.rates[-1]:.0f}/s, floor {floor.rates[-1]:.0f}/s, "
                f"ceiling {ceiling.rates[-1]:.0f}/s")
        log(f"[{label}] project: {project.per_s:.0f}/s, p99 {project.p99_ms:.0f} ms; "
            f"floor: {floor.per_s:.0f}/s, p99 {floor.p99_ms:.0f} ms; ceiling: {ceiling.per_s:.0f}/s, p99 {ceiling.p99_ms:.0f} ms")
        written = {table: n - before[table] for table, n in intake_floor.counts(url).items()}
        wanted = intake_floor.expected_rows(project.count + floor.count + CLIENTS)  # the floor's warm-up too
        if written != wanted:
            raise RuntimeError(f"the app and the floor did not write what they should have: {written}, expected {wanted}")

        log(f"[{label}] 'Your changes' with 1 report and with 1,000")
        one, thousand = emails[CLIENTS], emails[CLIENTS + 1]
        many_reports(url, one, 1)
        many_reports(url, thousand, 1000)
        cookies = asyncio.run(_cookies(server.url, [one, thousand]))
        page = {
            "one_report_ms": asyncio.run(time_page(server.url, cookies[0], "/changes")),
            "thousand_reports_ms": asyncio.run(time_page(server.url, cookies[1], "/changes")),
            "thousand_reports_last_page_ms": asyncio.run(time_page(server.url, cookies[1], "/changes?page=40")),
        }
        log(f"[{label}] your changes: {page}")
    finally:
        for running in (server, ceiling_server, floor_server):
            if running is not None:
                running.stop()
    return {"database": label, "ratio": project.per_s / ceiling.per_s, "floor_ratio": project.per_s / floor.per_s,
            "project": project, "floor": floor, "ceiling": ceiling, "your_changes": page, "submissions": project.count}


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
        return p99(self.latencies)

    @property
    def median_ms(self) -> float:
        return statistics.median(self.latencies) * 1000


async def _cookies(base: str, emails: Sequence[str]) -> list[str]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
        return [await sign_in(http, base, e) for e in emails]


def databases() -> list[tuple[str, str | None]]:
    """(label, URL) of each database to run on: SQLite (a fresh file) always, PostgreSQL when given."""
    postgres = os.environ.get("TELLUSONCE_BENCH_DATABASE_URL")
    if not postgres:
        log("TELLUSONCE_BENCH_DATABASE_URL is not set: PostgreSQL is skipped (its schema would be dropped and rebuilt)")
        return [("sqlite", None)]
    return [("sqlite", None), ("postgresql", postgres)]


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="tellusonce-bench-intake-") as tmp:
        results = [run(label, fresh_database(url, Path(tmp)), Path(tmp)) for label, url in databases()]
    worst = min(results, key=lambda r: r["floor_ratio"])
    print(json.dumps({
        "bench": "intake",
        "floor_ratio": round(worst["floor_ratio"], 3),
        "ratio": round(worst["ratio"], 3),
        "project_per_s": round(worst["project"].per_s, 1),
        "floor_per_s": round(worst["floor"].per_s, 1),
        "ceiling_per_s": round(worst["ceiling"].per_s, 1),
        "p99_ms": round(max(r["project"].p99_ms for r in results), 1),
        "database": worst["database"],
        "clients": CLIENTS,
        "gunicorn_workers": WORKERS,
        "runs": {r["database"]: {
            "floor_ratio": round(r["floor_ratio"], 3), "ratio": round(r["ratio"], 3),
            "project_per_s": round(r["project"].per_s, 1), "floor_per_s": round(r["floor"].per_s, 1),
            "ceiling_per_s": round(r["ceiling"].per_s, 1), "p99_ms": round(r["project"].p99_ms, 1),
            "floor_p99_ms": round(r["floor"].p99_ms, 1), "ceiling_p99_ms": round(r["ceiling"].p99_ms, 1),
            "submissions": r["submissions"],
            "turn_floor_ratios": [round(p / f, 3) for p, f in zip(r["project"].rates, r["floor"].rates, strict=True)],
            "turn_ratios": [round(p / c, 3) for p, c in zip(r["project"].rates, r["ceiling"].rates, strict=True)],
            "your_changes_ms": {k: round(v, 1) for k, v in r["your_changes"].items()},
        } for r in results},
    }))

if __name__ == "__main__":
    main()
