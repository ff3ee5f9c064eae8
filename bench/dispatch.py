"""Dispatch benchmark: webhook deliveries per second, the worker against the fastest bare client.

In one run, against one local keep-alive sink (bench/support/sink.py, its own process):

1. ceiling: aiohttp and httpx each POST the same signed CloudEvent bodies with
   the same concurrency; the faster is the ceiling (aiohttp's runs take turns with
   the worker's, three rounds, each side keeping its best);
2. project: the real worker (claim, consent check, build, sign, POST, record)
   delivers the same number of queued notifications, timed from when they become
   due once the worker is ready (its database side started); with its database
   side as a process (the default with more than one core: the headline) and as a
   thread;
3. on PostgreSQL (TELLUSONCE_BENCH_DATABASE_URL=postgresql://…): 1, 2 and 4
   `tellusonce dispatch` processes sharing the queue, timed by the attempt log
   from the first attempt's start to the last one's end;
4. scale: the time to claim a batch with 1,000,000 notifications in the table
   against an empty one (TELLUSONCE_BENCH_SCALE_ROWS changes the million).

Prints one JSON line at the end: {"bench": "dispatch", "ratio": …, "project_per_s": …,
"ceiling_per_s": …, …}. Takes minutes; not a test.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import httpx  # noqa: E402
from sqlalchemy import Engine, func, insert, select, text, update  # noqa: E402

from tellusonce.data.outbox import claim_due  # noqa: E402
from tellusonce.db import make_engine, transaction  # noqa: E402
from tellusonce.domain.events import build_event  # noqa: E402
from tellusonce.migrate import wipe_and_upgrade  # noqa: E402
from tellusonce.models import (  # noqa: E402
    Base,
    ChangeReport,
    Citizen,
    ConsentGrant,
    DeliveryAttempt,
    Department,
    Notification,
    NotificationState,
    WorkerHeartbeat,
)
from tellusonce.settings import Settings  # noqa: E402
from tellusonce_services.dispatch.signing import department_secrets, signature_headers  # noqa: E402
from tellusonce_services.dispatch.webhook import WebhookSender  # noqa: E402
from tellusonce_services.dispatch.worker import Worker, WorkerConfig, tune_process  # noqa: E402
from tellusonce_services.registry import load_registry, sync_registry  # noqa: E402

CONCURRENCY = int(os.environ.get("TELLUSONCE_BENCH_CONCURRENCY", "50"))
COUNT = int(os.environ.get("TELLUSONCE_BENCH_COUNT", "6000"))
ROUNDS = 3  # of the bare client and the worker, in turns
SCALE_ROWS = int(os.environ.get("TELLUSONCE_BENCH_SCALE_ROWS", "1000000"))
DEPARTMENTS = ("dvla", "hmrc", "dwp", "hmpo", "leeds-council-tax", "leeds-electoral-registration")
SECRET_KEY = "bench-secret-key-that-is-long-enough-for-any-mode"
PAYLOAD = {"given_names": "Amara", "family_name": "Okafor", "date_of_birth": "1988-04-12",
           "address_line_1": "4 Canal Wharf", "town": "Leeds", "postcode": "LS11 5PS", "move_date": "2026-11-15"}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- the database -----------------------------------------------------------------------


def fresh_database(url: str | None, workdir: Path) -> str:
    url = url or f"sqlite:///{workdir / 'bench.sqlite3'}"
    wipe_and_upgrade(url)
    return url


def prepare(engine: Engine, sink_url: str) -> dict[str, uuid.UUID]:
    """The registry pointed at the sink, one citizen and report, and a standing grant per department."""
    with transaction(engine) as session:
        sync_registry(session, load_registry(ROOT / "config" / "departments.toml"))
        session.execute(update(Department).where(Department.id.in_(DEPARTMENTS))
                        .values(webhook_url=sink_url, allow_private_network=True))
    now = datetime.now(UTC)
    citizen_id, report_id = uuid.uuid4(), uuid.uuid4()
    receipts = {d: uuid.uuid4() for d in DEPARTMENTS}
    with transaction(engine) as session:
        session.execute(insert(Citizen).values(id=citizen_id, email="bench@example.org", language="en",
                                               session_version=0, created_at=now, updated_at=now))
        session.execute(insert(ChangeReport).values(
            id=report_id, reference="TUO-BENCH0001", citizen_id=citizen_id, change_type="address",
            subject="self", channel="web", submission_key="bench", fingerprint="bench", state="submitted",
            answers=PAYLOAD, submitted_at=now, created_at=now, updated_at=now))
        for d, receipt in receipts.items():
            session.execute(insert(ConsentGrant).values(
                id=uuid.uuid4(), citizen_id=citizen_id, department_id=d, scope="standing",
                change_types=["address"], granted_at=now, receipt_id=receipt))
    return {"citizen": citizen_id, "report": report_id, **{f"receipt:{d}": r for d, r in receipts.items()}}


def queue(engine: Engine, ids: dict[str, uuid.UUID], count: int, *, state: str = NotificationState.PENDING,
          due: datetime | None = None) -> None:
    now = datetime.now(UTC)
    due = due or now
    rows = []
    for i in range(count):
        d = DEPARTMENTS[i % len(DEPARTMENTS)]
        rows.append({
            "id": uuid.uuid4(), "report_id": ids["report"], "citizen_id": ids["citizen"], "department_id": d,
            "change_type": "address", "state": state, "payload": PAYLOAD,
            "consent_receipt_id": ids[f"receipt:{d}"], "attempt_count": 0,
            "next_attempt_at": due if state == NotificationState.PENDING else None,
            "created_at": now, "updated_at": now,
        })
        if len(rows) == 20_000:
            with transaction(engine) as session:
                session.execute(insert(Notification), rows)
            rows = []
    if rows:
        with transaction(engine) as session:
            session.execute(insert(Notification), rows)


def clear_notifications(engine: Engine) -> None:
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name in ("delivery_attempt", "notification", "audit_event", "worker_heartbeat"):
                connection.execute(table.delete())


def delivered(engine: Engine) -> int:
    with transaction(engine, writer=False) as session:
        return session.scalar(select(func.count()).select_from(Notification)
                              .where(Notification.state == NotificationState.DELIVERED)) or 0


# -- the bare clients -------------------------------------------------------------------


def signed_requests(settings: Settings, count: int) -> list[tuple[str, bytes, list[str]]]:
    now = datetime.now(UTC)
    result = []
    for i in range(count):
        d = DEPARTMENTS[i % len(DEPARTMENTS)]
        notification_id = uuid.uuid4()
        body = build_event(notification_id=notification_id, change_type="address", report_reference="TUO-BENCH0001",
                           payload=PAYLOAD, consent_receipt_id=uuid.uuid4(), created_at=now, source=settings.base_url)
        result.append((str(notification_id), body, department_secrets(settings, d, None)))
    return result


async def bare_aiohttp(url: str, requests: list[tuple[str, bytes, list[str]]]) -> float:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as session:
        work = iter(requests)

        async def one() -> None:
            for msg_id, body, secrets in work:
                headers = signature_headers(body, msg_id=msg_id, at=datetime.now(UTC), secrets=secrets)
                headers["Content-Type"] = "application/cloudevents+json"
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
                    assert response.status == 204

        started = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(CONCURRENCY)))
        return len(requests) / (time.perf_counter() - started)


async def bare_httpx(url: str, requests: list[tuple[str, bytes, list[str]]]) -> float:
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(limits=limits) as client:
        work = iter(requests)

        async def one() -> None:
            for msg_id, body, secrets in work:
                headers = signature_headers(body, msg_id=msg_id, at=datetime.now(UTC), secrets=secrets)
                headers["Content-Type"] = "application/cloudevents+json"
                response = await client.post(url, content=body, headers=headers)
                assert response.status_code == 204

        started = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(CONCURRENCY)))
        return len(requests) / (time.perf_counter() - started)


# -- the worker -------------------------------------------------------------------------


async def run_worker(engine: Engine, settings: Settings, ids: dict[str, uuid.UUID], *, process: bool) -> float:
    """Deliveries per second of one worker, its database side in a process or a thread: from
    when the queued work becomes due, once the worker is ready (its database side started), to
    when the last delivery is recorded; neither start-up nor shutting down counts."""
    queue(engine, ids, COUNT, due=datetime.now(UTC) + timedelta(days=1))
    sender = WebhookSender().init(settings)
    worker = Worker(engine, settings, sender=sender,
                    config=WorkerConfig(concurrency=CONCURRENCY, department_concurrency=CONCURRENCY,
                                        database_process=process))
    started = finished = 0.0

    def due_now() -> None:  # called before the worker's first claim
        nonlocal started
        with transaction(engine) as session:
            session.execute(update(Notification).values(next_attempt_at=datetime.now(UTC)))
        started = time.perf_counter()

    async def watch() -> None:
        nonlocal finished
        while worker.stats.delivered < COUNT:
            await asyncio.sleep(0.002)
        finished = time.perf_counter()

    watcher = asyncio.create_task(watch())
    try:
        stats = await worker.run(once=True, ready=due_now)
    finally:
        await sender.close()
    await watcher
    assert stats.delivered == COUNT, stats
    return COUNT / (finished - started)


def run_processes(url: str, settings: Settings, n: int, ids: dict[str, uuid.UUID]) -> float:
    """Deliveries per second with ``n`` `tellusonce dispatch` processes once every one has
    started: from the first attempt's start to the last one's end, as the attempt log records
    them (an idle worker looks for due work every half second, which would otherwise count)."""
    env = dict(os.environ, TELLUSONCE_MODE="test", TELLUSONCE_SECRET_KEY=SECRET_KEY, TELLUSONCE_DATABASE_URL=url,
               TELLUSONCE_INSTANCE_PATH=str(settings.instance_path))
    command = [sys.executable, "-m", "tellusonce.cli", "dispatch", "--concurrency", str(CONCURRENCY),
               "--department-concurrency", str(CONCURRENCY)]
    engine = make_engine(url)
    later = datetime.now(UTC) + timedelta(days=1)
    queue(engine, ids, COUNT, due=later)
    procs = [subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL) for _ in range(n)]
    try:
        while running_workers(engine) < n:
            time.sleep(0.1)
        started = time.perf_counter()
        with transaction(engine) as session:
            session.execute(update(Notification).values(next_attempt_at=datetime.now(UTC)))
        while delivered(engine) < COUNT:
            if time.perf_counter() - started > 600:
                raise RuntimeError("workers did not finish in 10 minutes")
            time.sleep(0.1)
        with transaction(engine, writer=False) as session:
            first, last = session.execute(select(func.min(DeliveryAttempt.started_at),
                                                 func.max(DeliveryAttempt.finished_at))).one()
        elapsed = (last - first).total_seconds()
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(timeout=30)
        engine.dispose()
    return COUNT / elapsed


def running_workers(engine: Engine) -> int:
    with transaction(engine, writer=False) as session:
        return session.scalar(select(func.count()).select_from(WorkerHeartbeat)
                              .where(WorkerHeartbeat.stopped_at.is_(None))) or 0


# -- claim time at scale ----------------------------------------------------------------


def claim_seconds(engine: Engine, *, rounds: int = 20) -> float:
    """Median time to claim (and give back) a batch of 200 due notifications."""
    times = []
    for i in range(rounds):
        with transaction(engine) as session:
            now = datetime.now(UTC)
            started = time.perf_counter()
            claimed = claim_due(session, worker=f"bench-{i}", limit=200, lease=timedelta(seconds=60), now=now,
                                department_ids=list(DEPARTMENTS), per_department=100)
            times.append(time.perf_counter() - started)
            assert len(claimed) == 200, len(claimed)
            session.rollback()
    return sorted(times)[len(times) // 2]


def main() -> None:
    bench_url = os.environ.get("TELLUSONCE_BENCH_DATABASE_URL", "")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        sink = subprocess.Popen([sys.executable, str(ROOT / "bench" / "support" / "sink.py")],
                                stdout=subprocess.PIPE, text=True)
        try:
            port = int(sink.stdout.readline())  # type: ignore[union-attr]
            sink_url = f"http://127.0.0.1:{port}/hooks"
            url = fresh_database(bench_url, workdir)
            settings = Settings(mode="test", secret_key=SECRET_KEY, database_url=url, instance_path=workdir)
            engine = make_engine(url)
            ids = prepare(engine, sink_url)
            requests = signed_requests(settings, COUNT)
            # This process is tuned as `tellusonce dispatch` tunes its own, before the bare
            # clients run too, so that both are measured under the same interpreter settings.
            tune_process()
            # The bare clients and the worker take turns, round after round, and each keeps its
            # best: a machine whose speed drifts during the run (a shared one does) then favours
            # neither. httpx, a small fraction of aiohttp's rate here, is tried once.
            ceilings: dict[str, list[float]] = {"aiohttp": [], "httpx": [asyncio.run(bare_httpx(sink_url, requests))]}
            log(f"bare httpx: {ceilings['httpx'][0]:.0f}/s")
            runs: dict[str, list[float]] = {"process": [], "thread": []}
            for _ in range(ROUNDS):
                ceilings["aiohttp"].append(asyncio.run(bare_aiohttp(sink_url, requests)))
                log(f"bare aiohttp: {ceilings['aiohttp'][-1]:.0f}/s")
                for side in runs:
                    clear_notifications(engine)
                    runs[side].append(asyncio.run(run_worker(engine, settings, ids, process=side == "process")))
                    log(f"worker, database {side}: {runs[side][-1]:.0f}/s")
            best = {name: max(per_s) for name, per_s in ceilings.items()}
            ceiling = max(best.values())
            default_side = "process" if WorkerConfig().database_process else "thread"
            project = max(runs[default_side])
            result: dict[str, object] = {
                "bench": "dispatch", "ratio": round(project / ceiling, 3), "project_per_s": round(project),
                "ceiling_per_s": round(ceiling), "ceiling_client": max(best, key=best.__getitem__),
                "aiohttp_per_s": round(best["aiohttp"]), "httpx_per_s": round(best["httpx"]),
                "database_side": default_side,
                **{f"worker_{side}_per_s": round(max(per_s)) for side, per_s in runs.items()},
                "concurrency": CONCURRENCY, "notifications": COUNT,
                "database": engine.dialect.name,
            }
            if engine.dialect.name == "postgresql":
                processes = {}
                for n in (1, 2, 4):
                    clear_notifications(engine)
                    processes[str(n)] = round(run_processes(url, settings, n, ids))
                    log(f"{n} worker processes: {processes[str(n)]}/s")
                result["processes_per_s"] = processes
            clear_notifications(engine)
            queue(engine, ids, 200)
            empty = claim_seconds(engine)
            log(f"claim with 200 rows: {empty * 1000:.1f} ms; filling {SCALE_ROWS} rows…")
            queue(engine, ids, SCALE_ROWS, state=NotificationState.DELIVERED)
            if engine.dialect.name == "postgresql":
                with engine.connect() as connection:
                    connection.execute(text("ANALYZE notification"))
                    connection.commit()
            full = claim_seconds(engine)
            log(f"claim with {SCALE_ROWS} more rows: {full * 1000:.1f} ms")
            result.update(claim_ms_empty=round(empty * 1000, 2), claim_ms_full=round(full * 1000, 2),
                          claim_scale_ratio=round(full / empty, 2), scale_rows=SCALE_ROWS)
            engine.dispose()
        finally:
            sink.terminate()
            sink.wait()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
