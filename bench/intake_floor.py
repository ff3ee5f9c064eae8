"""Intake floor: how fast could any final step be that writes what a submission writes?

The intake benchmark (``intake.py``) compares the real final POST with a bare Flask endpoint
inserting one row. This one asks what part of that gap is the work the issue requires
rather than the app's own code. ``floor_app`` is a bare Flask endpoint that does only:

- Flask-WTF's CSRF check and Flask's signed session cookie, read and written again;
- one writer transaction, taken as the app takes it (``session_factory(writer=True)``:
  SQLite's write lock at BEGIN, the same pragmas), which reads the citizen and looks up the
  submission key, then writes the rows of one real web submission again with fresh keys:
  the report, three one-off consents and their three events, three notifications, the audit
  event after reading its chain's last hash, the confirmation email (twelve rows; on
  PostgreSQL the last ones in one psycopg pipeline);

and no validation, consent planning, journey, rate limiter, security headers or log line. Where
it differs from the app otherwise, it errs on the fast side: on PostgreSQL it takes no lock on
the audit chain, it does not put the new address on the citizen's account (the app's one
UPDATE), and its statements are SQL text run on the driver's cursor. The rows are those
of a real submission made through the real app at the start of the run (sign in, walk a move
to three organisations, send), read back as the database driver holds them, so the floor
follows the schema as it changes.

The floor and the ceiling (``support.web.ceiling_app``) run under the same gunicorn settings and
32 clients, taking turns as in ``intake.py``, on SQLite and (with
TELLUSONCE_BENCH_DATABASE_URL, whose schema is dropped and rebuilt) PostgreSQL. Prints one
JSON line: {"bench": "intake_floor", "ratio": floor ÷ ceiling (the lower database's), …}.
TELLUSONCE_BENCH_INTAKE_FLOOR_COUNT sets the submissions per database (default 960).
The floor's ratio bounds what an implementation can reach that writes these rows, with this
schema, behind these protections, on the same machine; ``intake.py`` runs the floor beside the
real app and asks the app for 0.55 × the floor. Not a test.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import aiohttp  # noqa: E402
from intake import ready_to_send  # noqa: E402
from sqlalchemy import func, select  # noqa: E402
from support.web import (  # noqa: E402
    CLIENTS,
    COOKIE,
    ROUNDS,
    WORKERS,
    Gunicorn,
    Journey,
    Work,
    app_env,
    csrf_token,
    databases,
    fresh_database,
    log,
    prepare,
    sign_in,
    start_ceiling,
    take_turns,
    warm_up,
)

from tellusonce.db import make_engine  # noqa: E402
from tellusonce.models import AuditEvent, ChangeReport, ConsentEvent, ConsentGrant, Notification, OutgoingEmail  # noqa: E402

COUNT = int(os.environ.get("TELLUSONCE_BENCH_INTAKE_FLOOR_COUNT", "960"))
# The rows one web submission of the benchmark's move writes (three organisations, each consented to once).
PER_SUBMISSION = {ChangeReport: 1, ConsentGrant: 3, ConsentEvent: 3, Notification: 3, AuditEvent: 1, OutgoingEmail: 1}


def capture(url: str, report_id: uuid.UUID) -> dict[str, list[dict[str, Any]]]:
    """The rows one submission wrote, as the database driver returns them (JSON-safe for the floor's
    workers: SQLite's values are text and numbers already; PostgreSQL's are tagged by type)."""
    engine = make_engine(url)
    with engine.connect() as connection:
        grants = connection.execute(select(ConsentGrant.id).where(ConsentGrant.report_id == report_id)).scalars().all()
        wanted = {
            "change_report": ("id", [report_id]),
            "consent_grant": ("report_id", [report_id]),
            "consent_event": ("grant_id", list(grants)),
            "notification": ("report_id", [report_id]),
            "outgoing_email": ("related_id", [report_id]),
            "audit_event": ("subject_id", [str(report_id)]),
        }
        raw = connection.connection.driver_connection
        driver_rows: dict[str, list[dict[str, Any]]] = {}
        for table, (column, values) in wanted.items():
            cursor = raw.cursor()
            placeholder = "?" if engine.dialect.name == "sqlite" else "%s"
            keys = [v.hex if engine.dialect.name == "sqlite" and isinstance(v, uuid.UUID) else v for v in values]
            cursor.execute(f"SELECT * FROM {table} WHERE {column} IN ({', '.join([placeholder] * len(keys))})", keys)
            names = [d[0] for d in cursor.description]
            driver_rows[table] = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
            cursor.close()
    engine.dispose()
    counts = {table: len(rows) for table, rows in driver_rows.items()}
    if counts != expected_rows(1):
        raise RuntimeError(f"the submission did not write the rows expected: {counts}")
    return {table: [_tagged(row) for row in rows] for table, rows in driver_rows.items()}


def _tagged(row: dict[str, Any]) -> dict[str, Any]:
    def tag(value: Any) -> Any:
        if isinstance(value, uuid.UUID):
            return {"uuid": str(value)}
        if isinstance(value, datetime):
            return {"time": value.isoformat()}
        if isinstance(value, dict | list):
            return {"json": value}
        if hasattr(value, "isoformat"):
            return {"date": value.isoformat()}
        return value

    return {k: tag(v) for k, v in row.items()}


def _untagged(value: Any) -> Any:
    from datetime import date

    from psycopg.types.json import Json

    if not isinstance(value, dict):
        return value
    if "uuid" in value:
        return uuid.UUID(value["uuid"])
    if "time" in value:
        return datetime.fromisoformat(value["time"])
    if "date" in value:
        return date.fromisoformat(value["date"])
    return Json(value["json"])


@contextmanager
def pipelined(connection: Any) -> Iterator[None]:
    """Statements run inside go to PostgreSQL without waiting for each answer (psycopg's pipeline
    mode): one round trip up to each statement whose rows are read, and one at the end. SQLite
    runs each as it comes. The floor's own trick: the service does not use it, because
    SQLAlchemy reads each statement's answer at once, which a pipeline knows only later."""
    if connection.dialect.name != "postgresql":
        yield
        return
    with connection.connection.driver_connection.pipeline():
        yield


def floor_app() -> Any:
    """CSRF, the signed session and the submission's rows written again (gunicorn "intake_floor:floor_app()")."""
    import hashlib

    from flask import Flask, session
    from flask_wtf.csrf import CSRFProtect, generate_csrf

    from tellusonce.data.driver import driver_for
    from tellusonce.db import session_factory

    engine = make_engine(os.environ["TELLUSONCE_DATABASE_URL"])
    writers = session_factory(engine, writer=True)
    captured = json.loads(Path(os.environ["TELLUSONCE_BENCH_FLOOR_ROWS"]).read_text())
    sqlite = engine.dialect.name == "sqlite"
    template = {table: [{k: v if sqlite else _untagged(v) for k, v in row.items()} for row in rows]
                for table, rows in captured.items()}
    audit = {k: v for k, v in template["audit_event"][0].items() if k != "id"}  # its id is the database's
    citizen_id = template["change_report"][0]["citizen_id"]

    app = Flask("floor")
    app.config.update(SECRET_KEY=os.environ["TELLUSONCE_SECRET_KEY"], WTF_CSRF_TIME_LIMIT=None, SESSION_COOKIE_NAME=COOKIE)
    CSRFProtect(app)

    def insert(table: str, columns: Any) -> str:
        return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(':' + c for c in columns)})"

    statements = {table: insert(table, audit if table == "audit_event" else rows[0]) for table, rows in template.items()}

    @app.get("/start")
    def start() -> str:
        session["citizen_id"] = str(citizen_id)
        session["journey"] = secrets.token_hex(16)
        return f'<input name="csrf_token" type="hidden" value="{generate_csrf()}">'

    @app.post("/submit")
    def submit() -> tuple[str, int, dict[str, str]]:
        if not session.get("citizen_id"):
            return "", 403, {}
        with writers() as db, db.begin():
            connection = db.connection()
            driver = driver_for(connection)
            sql = {t: driver.sql(s) for t, s in statements.items()}
            now = driver.time(datetime.now(UTC))
            report_id = uuid.uuid4()
            rid = driver.uuid(report_id)
            driver.execute(connection, driver.sql("SELECT * FROM citizen WHERE id = :id"), {"id": citizen_id})
            key = f"{session['journey'][:16]}-{report_id.hex}"  # one report per POST, as each journey sends once
            driver.execute(connection, driver.sql("SELECT id FROM change_report WHERE citizen_id = :c AND submission_key = :k"),
                           {"c": citizen_id, "k": key})
            report = template["change_report"][0] | {"id": rid, "reference": f"F-{secrets.token_hex(6)}",
                                                    "submission_key": key, "created_at": now, "updated_at": now,
                                                    "submitted_at": now}
            driver.execute(connection, sql["change_report"], report, read=False)
            grants = [g | {"id": driver.uuid(uuid.uuid4()), "receipt_id": driver.uuid(uuid.uuid4()), "report_id": rid,
                           "granted_at": now} for g in template["consent_grant"]]
            with pipelined(connection):
                driver.execute(connection, sql["consent_grant"], grants, many=True)
                driver.execute(connection, sql["consent_event"], [
                    e | {"id": driver.uuid(uuid.uuid4()), "grant_id": g["id"], "receipt_id": g["receipt_id"], "at": now}
                    for e, g in zip(template["consent_event"], grants, strict=True)], many=True)
                driver.execute(connection, sql["notification"], [
                    n | {"id": driver.uuid(uuid.uuid4()), "report_id": rid, "consent_receipt_id": g["receipt_id"],
                         "created_at": now, "updated_at": now, "next_attempt_at": now}
                    for n, g in zip(template["notification"], grants, strict=True)], many=True)
                last = driver.execute(connection, driver.sql(
                    "SELECT hash FROM audit_event WHERE chain = :chain ORDER BY id DESC LIMIT 1"), {"chain": audit["chain"]})
                prev = last[0][0] if last else "0" * 64
                driver.execute(connection, sql["audit_event"], audit | {
                    "at": now, "subject_id": str(report_id), "prev_hash": prev,
                    "hash": hashlib.sha256(f"{prev}{report_id}".encode()).hexdigest()}, read=False)
                driver.execute(connection, sql["outgoing_email"], template["outgoing_email"][0] | {
                    "id": driver.uuid(uuid.uuid4()), "related_id": rid, "created_at": now}, read=False)
        session["sent"] = str(report_id)
        return "", 303, {"Location": f"/sent/{report_id}"}

    return app


async def one_real_submission(base: str, email: str) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
        cookie, token = await ready_to_send(http, base, await sign_in(http, base, email), 0)
        await Journey(http, base, cookie).request("POST", "/report/check", {"csrf_token": token}, expect=303)


async def floor_journeys(base: str, count: int) -> Work:
    """Per client, ``count / CLIENTS`` submissions to the floor, each in a session of its own."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:

        async def one() -> tuple[str, dict[str, str], dict[str, str]]:
            journey = Journey(http, base)
            token = csrf_token(await journey.request("GET", "/start"))
            return "/submit", {"Cookie": f"{COOKIE}={journey.cookie}"}, {"csrf_token": token}

        per_client = -(-count // CLIENTS)
        return [[await one() for _ in range(per_client)] for _ in range(CLIENTS)]


def _counts(connection: Any) -> dict[str, int]:
    return {model.__tablename__: connection.execute(select(func.count()).select_from(model)).scalar_one()
            for model in PER_SUBMISSION}


def expected_rows(submissions: int) -> dict[str, int]:
    return {model.__tablename__: rows * submissions for model, rows in PER_SUBMISSION.items()}


def start_floor(label: str, url: str, workdir: Path, env: dict[str, str], report_id: uuid.UUID) -> Gunicorn:
    """The floor's gunicorn, writing again the rows that the real submission ``report_id`` wrote."""
    rows_path = workdir / f"rows-{label}.json"
    rows_path.write_text(json.dumps(capture(url, report_id)))
    return Gunicorn("intake_floor:floor_app()", dict(env, TELLUSONCE_BENCH_FLOOR_ROWS=str(rows_path), PYTHONPATH=str(ROOT)),
                    ROOT / "bench", workdir / f"gunicorn-{label}-floor.log")


def counts(url: str) -> dict[str, int]:
    """How many rows of each table a submission writes there are."""
    engine = make_engine(url)
    with engine.connect() as connection:
        found = _counts(connection)
    engine.dispose()
    return found


def run(label: str, url: str, workdir: Path) -> dict[str, Any]:
    log(f"[{label}] one submission through the real app, to take its rows")
    emails = prepare(url)
    env = dict(app_env(label, url, workdir), PYTHONPATH=str(ROOT))
    app = Gunicorn("tellusonce:create_app()", env, ROOT, workdir / f"gunicorn-{label}-app.log")
    try:
        asyncio.run(one_real_submission(app.url, emails[0]))
    finally:
        app.stop()
    engine = make_engine(url)
    with engine.connect() as connection:
        report_id = connection.execute(select(ChangeReport.id)).scalar_one()
    engine.dispose()
    before = counts(url)
    floor = start_floor(label, url, workdir, env, report_id)
    ceiling = start_ceiling(label, env, workdir)
    try:
        work = warm_up(floor.url, "POST", asyncio.run(floor_journeys(floor.url, COUNT + CLIENTS)), 303)
        inserts = warm_up(ceiling.url, "POST", [[("/insert", {}, {"body": f"row {i}-{j}"}) for j in range(len(items) + 1)]
                                                for i, items in enumerate(work)], 201)
        floor_timing, ceiling_timing = take_turns([(floor.url, "POST", work, 303), (ceiling.url, "POST", inserts, 201)])
        timings = {"floor": floor_timing, "ceiling": ceiling_timing}
        for turn in range(ROUNDS):
            log(f"[{label}] turn {turn + 1} of {ROUNDS}: floor {floor_timing.rates[turn]:.0f}/s, "
                f"ceiling {ceiling_timing.rates[turn]:.0f}/s")
    finally:
        floor.stop()
        ceiling.stop()
    after = counts(url)
    written = {table: count - before[table] for table, count in after.items()}
    wanted = expected_rows(timings["floor"].count + CLIENTS)  # the timed ones and the warm-up
    if written != wanted:
        raise RuntimeError(f"the floor did not write what it should have: {written}, expected {wanted}")
    return {"database": label, "ratio": timings["floor"].per_s / timings["ceiling"].per_s, **timings}


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="tellusonce-bench-floor-") as tmp:
        results = [run(label, fresh_database(url, Path(tmp)), Path(tmp)) for label, url in databases()]
    worst = min(results, key=lambda r: r["ratio"])
    print(json.dumps({
        "bench": "intake_floor",
        "ratio": round(worst["ratio"], 3),
        "floor_per_s": round(worst["floor"].per_s, 1),
        "ceiling_per_s": round(worst["ceiling"].per_s, 1),
        "database": worst["database"],
        "clients": CLIENTS,
        "gunicorn_workers": WORKERS,
        "runs": {r["database"]: {
            "ratio": round(r["ratio"], 3), "floor_per_s": round(r["floor"].per_s, 1),
            "ceiling_per_s": round(r["ceiling"].per_s, 1), "floor_p99_ms": round(r["floor"].p99_ms, 1),
            "turn_ratios": [round(f / c, 3) for f, c in zip(r["floor"].rates, r["ceiling"].rates, strict=True)],
        } for r in results},
    }))


if __name__ == "__main__":
    main()
