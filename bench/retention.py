"""Retention benchmark: blank many expired notification payloads, against a bare batched UPDATE.

On SQLite and (with TELLUSONCE_BENCH_DATABASE_URL=postgresql://…, whose schema this benchmark
drops and rebuilds) PostgreSQL: TELLUSONCE_BENCH_RETENTION_COUNT delivered notifications
(default 50,000) acknowledged 40 days ago are blanked by ``run_retention`` (the project: find in
key order, lock, blank, one audit event a batch, each batch its own transaction), then their
payloads are put back and a bare loop blanks them as the ceiling (the same batches in key order,
``UPDATE … SET payload = '{}'``, one transaction each, no audit). They take turns (ROUNDS), each
keeping its best. Prints one JSON line: {"bench": "retention", "ratio": project ÷ ceiling (the
lower of the databases), "project_per_s", "ceiling_per_s", "longest_batch_s", "runs": {…}}.
The longest batch is the longest any one transaction (and so any lock it takes) was held.
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

from dispatch import PAYLOAD, fresh_database, log, prepare, queue  # noqa: E402
from sqlalchemy import Engine, select, text, update  # noqa: E402

from tellusonce.application.retention import run_retention  # noqa: E402
from tellusonce.clock import utcnow  # noqa: E402
from tellusonce.config_files import load_schedule  # noqa: E402
from tellusonce.db import make_engine, transaction  # noqa: E402
from tellusonce.domain.retention import Kind  # noqa: E402
from tellusonce.models import AuditEvent, Notification, NotificationState  # noqa: E402

COUNT = int(os.environ.get("TELLUSONCE_BENCH_RETENTION_COUNT", "50000"))
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


def main() -> None:
    postgres = os.environ.get("TELLUSONCE_BENCH_DATABASE_URL")
    if not postgres:
        log("TELLUSONCE_BENCH_DATABASE_URL is not set: PostgreSQL is skipped (its schema would be dropped and rebuilt)")
    with tempfile.TemporaryDirectory(prefix="tellusonce-bench-retention-") as tmp:
        runs = {label: run(label, fresh_database(url, Path(tmp)))
                for label, url in [("sqlite", None), *([("postgresql", postgres)] if postgres else [])]}
    worst = min(runs.values(), key=lambda r: r["ratio"])
    print(json.dumps({"bench": "retention", "ratio": worst["ratio"], "project_per_s": worst["project_per_s"],
                      "ceiling_per_s": worst["ceiling_per_s"],
                      "longest_batch_s": max(r["longest_batch_s"] for r in runs.values()), "runs": runs}))


if __name__ == "__main__":
    main()
