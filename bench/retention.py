"""Retention benchmark: blank many expired notification payloads, against a bare batched UPDATE,
and purge 1,000,000 of them while the web and dispatch keep serving.

On SQLite and (with TELLUSONCE_BENCH_DATABASE_URL=postgresql://…, whose schema this benchmark
drops and rebuilds) PostgreSQL:

1. rate against a ceiling: TELLUSONCE_BENCH_RETENTION_COUNT delivered notifications (default
   50,000) acknowledged 40 days ago are blanked by ``run_retention`` (the project: find in key
   order, lock, blank, one audit event a batch, each batch its own transaction), then their
   payloads are put back and a bare loop blanks them as the ceiling (the same batches in key
   order, ``UPDATE … SET payload = '{}'``, one transaction each, no audit). They take turns
   (ROUNDS), each keeping its best. The longest batch is the longest any one transaction (and so
   any lock it takes) was held.
2. under load: TELLUSONCE_BENCH_RETENTION_ROWS expired payloads (default 1,000,000, the issue's
   figure; seeded in bulk: a few thousand rows, then ``INSERT … SELECT`` doubling them) are purged
   by ``tellusonce retention run`` in a process of its own, while the app under gunicorn takes
   final-step submissions from TELLUSONCE_BENCH_RETENTION_CLIENTS clients (default 16) and
   ``tellusonce dispatch`` delivers their notifications to a local sink. The intake's p99 is
   measured before the purge, during it (TELLUSONCE_BENCH_RETENTION_SUBMISSIONS final POSTs a
   round, up to TELLUSONCE_BENCH_RETENTION_ROUNDS rounds, default 3, while the purge lasts) and
   after it; the ratio is the p99 during ÷ the p99 of before and after together (target: within
   1.5). The purge's overall rate and its longest batch (the longest lock wait it can cause:
   each batch holds its locks for one transaction) come from the command's own report; its rate
   while the intake is serving, from the batches committed in that window. The dispatcher is given a schedule that keeps payloads, so the only
   purge is the one timed.

Prints one JSON line: {"bench": "retention", "ratio": project ÷ ceiling (the lower of the
databases), "project_per_s", "ceiling_per_s", "longest_batch_s", "purge_per_s",
"purge_longest_batch_s", "intake_p99_ratio" (the worst database), "runs": {…}}.
Not a test (bench/README.md).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import asyncio  # noqa: E402
import re  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402

from dispatch import PAYLOAD, fresh_database, log, prepare, queue  # noqa: E402
from sqlalchemy import Engine, func, select, text, update  # noqa: E402
from support import web  # noqa: E402

from tellusonce.application.retention import run_retention  # noqa: E402
from tellusonce.clock import utcnow  # noqa: E402
from tellusonce.config_files import load_schedule  # noqa: E402
from tellusonce.db import make_engine, transaction  # noqa: E402
from tellusonce.domain.retention import Kind  # noqa: E402
from tellusonce.models import AuditEvent, Notification, NotificationState  # noqa: E402

COUNT = int(os.environ.get("TELLUSONCE_BENCH_RETENTION_COUNT", "50000"))
PURGE_ROWS = int(os.environ.get("TELLUSONCE_BENCH_RETENTION_ROWS", "1000000"))
PURGE_CLIENTS = int(os.environ.get("TELLUSONCE_BENCH_RETENTION_CLIENTS", "16"))
PER_PHASE = int(os.environ.get("TELLUSONCE_BENCH_RETENTION_SUBMISSIONS", "384"))  # final POSTs before, during, after
DURING_ROUNDS = int(os.environ.get("TELLUSONCE_BENCH_RETENTION_ROUNDS", "3"))  # rounds of submissions during the purge
SEED = 5_000  # rows written one by one; the rest are copies of them
BATCH = 500
ROUNDS = 2
SCHEDULE = load_schedule(ROOT / "config" / "retention.toml")


def expire(engine: Engine) -> None:
    """Every notification delivered and acknowledged long ago, with its details back."""
    old = utcnow() - timedelta(days=40)
    with transaction(engine) as session:
        session.execute(update(Notification).values(state=NotificationState.ACKNOWLEDGED, delivered_at=old,
                                                    acknowledged_at=old, payload=PAYLOAD))
        session.execute(AuditEvent.__table__.delete().where(AuditEvent.chain == "retention"))


def project(engine: Engine) -> tuple[float, float, int]:
    started = time.perf_counter()
    result = run_retention(lambda: transaction(engine), SCHEDULE, now=utcnow, limit=BATCH,
                           kinds=[Kind.NOTIFICATION_PAYLOADS])
    assert result.removed == COUNT, result.removed
    return time.perf_counter() - started, result.longest_batch_seconds, result.removed


def ceiling(engine: Engine) -> tuple[float, float, int]:
    started = time.perf_counter()
    after: Any = None
    longest = 0.0
    done = 0
    while True:
        batch_started = time.perf_counter()
        with transaction(engine) as session:
            query = select(Notification.id).order_by(Notification.id).limit(BATCH)
            if after is not None:
                query = query.where(Notification.id > after)
            ids = list(session.scalars(query))
            if ids:
                session.execute(update(Notification).where(Notification.id.in_(ids))
                                .values(payload=text("'{}'")).execution_options(synchronize_session=False))
        longest = max(longest, time.perf_counter() - batch_started)
        done += len(ids)
        if len(ids) < BATCH:
            return time.perf_counter() - started, longest, done
        after = ids[-1]


def run(label: str, url: str) -> dict[str, Any]:
    engine = make_engine(url)
    ids = prepare(engine, "http://127.0.0.1:9/")
    queue(engine, ids, COUNT, state=NotificationState.DELIVERED)
    best: dict[str, tuple[float, float, int]] = {}
    for round_ in range(ROUNDS):
        for name, fn in (("project", project), ("ceiling", ceiling)):
            expire(engine)
            seconds, longest, removed = fn(engine)
            log(f"{label} round {round_ + 1} {name}: {removed} in {seconds:.2f} s "
                f"({removed / seconds:,.0f}/s), longest batch {longest * 1000:.1f} ms")
            if name not in best or seconds < best[name][0]:
                best[name] = (seconds, longest, removed)
    engine.dispose()
    project_per_s = COUNT / best["project"][0]
    ceiling_per_s = COUNT / best["ceiling"][0]
    return {"ratio": round(project_per_s / ceiling_per_s, 3), "project_per_s": round(project_per_s),
            "ceiling_per_s": round(ceiling_per_s), "longest_batch_s": round(best["project"][1], 4), "rows": COUNT}


# -- purging 1,000,000 while the web and dispatch serve ------------------------------------


def seed_expired(engine: Engine, ids: dict[str, Any], rows: int) -> None:
    """``rows`` notifications acknowledged 40 days ago, their payloads held: a few thousand through
    the ORM's executemany, then copies of them (``INSERT … SELECT``, new ids) until there are enough."""
    queue(engine, ids, min(SEED, rows), state=NotificationState.DELIVERED)
    expire(engine)
    columns = [c.name for c in Notification.__table__.columns if c.name != "id"]
    new_id = "lower(hex(randomblob(16)))" if engine.dialect.name == "sqlite" else "gen_random_uuid()"
    names = ", ".join(columns)
    while True:
        with transaction(engine) as session:
            have = session.scalar(select(func.count()).select_from(Notification)) or 0
            if have >= rows:
                return
            session.execute(text(f"INSERT INTO notification (id, {names}) SELECT {new_id}, {names} "
                                 f"FROM notification LIMIT {min(have, rows - have)}"))
        log(f"seeded {min(2 * have, rows):,} expired notifications")


def _p99_ms(latencies: list[float]) -> float:
    return statistics.quantiles(latencies, n=100)[98] * 1000


def _journeys(base: str, emails: list[str], count: int) -> list[tuple[str, str]]:
    """``count`` moves walked up to "check your answers" (not timed): each one's cookie and token."""
    from intake import prepare_journeys  # its journey, as the intake benchmark walks it

    prepared = asyncio.run(prepare_journeys(base, emails, count))
    return [journey for client in prepared for journey in client]


def _work(journeys: list[tuple[str, str]]) -> web.Work:
    return [[("/report/check", {"Cookie": f"{web.COOKIE}={cookie}"}, {"csrf_token": token})
             for cookie, token in journeys[i::PURGE_CLIENTS]] for i in range(PURGE_CLIENTS)]


def _submit(base: str, journeys: list[tuple[str, str]]) -> list[float]:
    _wall, latencies = asyncio.run(web.fire(base, "POST", _work(journeys), 303))
    return latencies


def _batches(engine: Engine) -> int:
    """The retention batches committed so far (each is one audit event of BATCH rows, the last of a kind fewer)."""
    with transaction(engine, writer=False) as session:
        return session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.chain == "retention")) or 0


def _delivered(engine: Engine) -> int:
    with transaction(engine, writer=False) as session:
        return session.scalar(select(func.count()).select_from(Notification)
                              .where(Notification.state == NotificationState.DELIVERED)) or 0


def under_load(label: str, url: str, workdir: Path) -> dict[str, Any]:
    engine = make_engine(url)
    emails = web.prepare(url)
    sink = subprocess.Popen([sys.executable, str(ROOT / "bench" / "support" / "sink.py")], stdout=subprocess.PIPE,
                            text=True)
    env = web.app_env(label, url, workdir)
    keeping = workdir / f"retention-keep-payloads-{label}.toml"  # the dispatcher's own runs leave payloads be
    schedule = (ROOT / "config" / "retention.toml").read_text(encoding="utf-8")
    payloads = 'keep = "30 days"\nthen = "blank"\nreason = "The details sent'
    assert payloads in schedule, "the schedule's notification_payloads entry has changed: update this benchmark"
    keeping.write_text(schedule.replace(payloads, payloads.replace("30 days", "9999 days"), 1), encoding="utf-8")
    server: web.Gunicorn | None = None
    dispatcher: subprocess.Popen[bytes] | None = None
    try:
        port = int(sink.stdout.readline())  # type: ignore[union-attr]
        ids = prepare(engine, f"http://127.0.0.1:{port}/hooks")  # the registry's webhooks at the sink
        started = time.perf_counter()
        seed_expired(engine, ids, PURGE_ROWS)
        log(f"[{label}] {PURGE_ROWS:,} expired notifications seeded in {time.perf_counter() - started:.1f} s")
        server = web.Gunicorn("tellusonce:create_app()", env, ROOT, workdir / f"gunicorn-purge-{label}.log")
        with (workdir / f"dispatch-{label}.log").open("wb") as dispatch_log:
            dispatcher = subprocess.Popen([sys.executable, "-m", "tellusonce.cli", "dispatch"], cwd=ROOT,
                                          env={**env, "TELLUSONCE_RETENTION": str(keeping)},
                                          stdout=dispatch_log, stderr=dispatch_log)
        log(f"[{label}] walking {3 * PER_PHASE + web.CLIENTS} journeys up to 'check your answers' (not timed)")
        journeys = _journeys(server.url, emails, 3 * PER_PHASE + web.CLIENTS)
        _submit(server.url, journeys[:web.CLIENTS])  # warm-up, not timed
        before_journeys, during_journeys, after_journeys = (
            journeys[web.CLIENTS + i * PER_PHASE: web.CLIENTS + (i + 1) * PER_PHASE] for i in range(3))
        before = _submit(server.url, before_journeys)
        log(f"[{label}] intake before the purge: p99 {_p99_ms(before):.0f} ms ({len(before)} submissions)")

        audited = _batches(engine)
        purge_started = time.perf_counter()
        purge = subprocess.Popen([sys.executable, "-m", "tellusonce.cli", "retention", "run", "--batch", str(BATCH)],
                                 cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        while _batches(engine) == audited and purge.poll() is None:
            time.sleep(0.05)
        delivered_before = _delivered(engine)
        window_batches, window_started = _batches(engine), time.perf_counter()
        during: list[float] = []
        rounds = 0
        while purge.poll() is None and rounds < DURING_ROUNDS:
            # Submissions for as long as the purge runs, up to DURING_ROUNDS rounds: the prepared
            # ones, then more journeys walked (the web serving those too) and submitted.
            chunk = during_journeys if rounds == 0 else _journeys(server.url, emails, PER_PHASE)
            during += _submit(server.url, chunk)
            rounds += 1
        outlasted = purge.poll() is None  # the purge ran for the whole of the window
        window_rows = (_batches(engine) - window_batches) * BATCH
        window_seconds = time.perf_counter() - window_started
        delivered_during = _delivered(engine) - delivered_before
        purge_out, purge_err = purge.communicate(timeout=3600)
        purge_seconds = time.perf_counter() - purge_started
        if purge.returncode != 0:
            raise RuntimeError(f"retention run failed: {purge_err}")
        blanked = int(re.search(r"^notification_payloads +(\d+) were blanked", purge_out, re.M).group(1))
        longest = float(re.search(r"the longest batch took ([\d.]+) s", purge_out).group(1))
        after = _submit(server.url, after_journeys)
        baseline = before + after
        result = {
            "rows": PURGE_ROWS, "blanked": blanked, "purge_s": round(purge_seconds, 1),
            "purge_per_s": round(blanked / purge_seconds), "longest_batch_s": longest,
            "clients": PURGE_CLIENTS, "p99_before_ms": round(_p99_ms(before)), "p99_after_ms": round(_p99_ms(after)),
            "p99_without_ms": round(_p99_ms(baseline)), "p99_during_ms": round(_p99_ms(during)),
            "p99_ratio": round(_p99_ms(during) / _p99_ms(baseline), 2),
            "median_without_ms": round(statistics.median(baseline) * 1000),
            "median_during_ms": round(statistics.median(during) * 1000),
            "submissions_during": len(during), "window_s": round(window_seconds, 1),
            "purge_outlasted_window": outlasted, "purge_per_s_while_serving": round(window_rows / window_seconds),
            "deliveries_during": delivered_during,
        }
        if blanked != PURGE_ROWS:
            raise RuntimeError(f"the purge blanked {blanked}, not {PURGE_ROWS}: {purge_out}")
        log(f"[{label}] purge: {result}")
        return result
    finally:
        for process in (dispatcher, sink):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(timeout=30)
        if server is not None:
            server.stop()
        engine.dispose()


def main() -> None:
    postgres = os.environ.get("TELLUSONCE_BENCH_DATABASE_URL")
    if not postgres:
        log("TELLUSONCE_BENCH_DATABASE_URL is not set: PostgreSQL is skipped (its schema would be dropped and rebuilt)")
    targets = [("sqlite", None), *([("postgresql", postgres)] if postgres else [])]
    with tempfile.TemporaryDirectory(prefix="tellusonce-bench-retention-") as tmp:
        runs = {label: run(label, fresh_database(url, Path(tmp))) for label, url in targets}
        for label, url in targets:
            workdir = Path(tmp) / f"purge-{label}"
            workdir.mkdir()
            runs[label]["under_load"] = under_load(label, fresh_database(url, workdir), workdir)
    worst = min(runs.values(), key=lambda r: r["ratio"])
    loads = [r["under_load"] for r in runs.values()]
    print(json.dumps({"bench": "retention", "ratio": worst["ratio"], "project_per_s": worst["project_per_s"],
                      "ceiling_per_s": worst["ceiling_per_s"],
                      "longest_batch_s": max(r["longest_batch_s"] for r in runs.values()),
                      "purge_per_s": min(u["purge_per_s"] for u in loads),
                      "purge_per_s_while_serving": min(u["purge_per_s_while_serving"] for u in loads),
                      "purge_longest_batch_s": max(u["longest_batch_s"] for u in loads),
                      "intake_p99_ratio": max(u["p99_ratio"] for u in loads), "runs": runs}))


if __name__ == "__main__":
    main()
