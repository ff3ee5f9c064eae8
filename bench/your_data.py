"""Download-your-data benchmark: the ZIP of everything held about a citizen with 1,000 reports.

For SQLite and (with TELLUSONCE_BENCH_DATABASE_URL=postgresql://…, whose schema this benchmark
drops and rebuilds) PostgreSQL: one citizen reports 1,000 moves through the intake, each to
three organisations (3,000 notifications, one delivery attempt each for two of them, 3,000
consents with their receipts, an email a report), then the download is built as the web
route builds it (``export_archive``) five times. The ceiling is reading the same rows alone
(``held_about``), in the same run. Prints one JSON line: {"bench": "your_data", "seconds": best
of five, "read_seconds": the ceiling's best, "ratio": ceiling ÷ download, "bytes": …}. The
target: under 2 s (issue 19); how to run it and the figures: bench/README.md.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from tellusonce.application.data_export import export_archive  # noqa: E402
from tellusonce.application.intake import ChangeRequest, submit_change  # noqa: E402
from tellusonce.clock import utcnow  # noqa: E402
from tellusonce.data.held import held_about  # noqa: E402
from tellusonce.db import make_engine, transaction  # noqa: E402
from tellusonce.mailout.queue import queue_email  # noqa: E402
from tellusonce.migrate import wipe_and_upgrade  # noqa: E402
from tellusonce.models import Citizen, DeliveryAttempt, Notification, NotificationState  # noqa: E402
from tellusonce_services.registry import load_registry, sync_registry  # noqa: E402

REPORTS = int(os.environ.get("TELLUSONCE_BENCH_YOUR_DATA_REPORTS", "1000"))
RECIPIENTS = ["dvla", "hmrc", "leeds-council-tax"]
TIMES = 5


def held_account(url: str) -> uuid.UUID:
    """A citizen with ``REPORTS`` moves told to three organisations, their attempts and emails; their id."""
    wipe_and_upgrade(url)
    engine = make_engine(url)
    now = utcnow()
    with transaction(engine) as session:
        sync_registry(session, load_registry(ROOT / "config" / "departments.toml"))
        citizen = Citizen(email="many@example.org", email_verified_at=now, given_names="Amara", family_name="Okafor",
                          date_of_birth=date(1988, 4, 12), ni_number="AB123456C", address_line_1="12 Hill Street",
                          town="Leeds", postcode="LS1 1AA")
        session.add(citizen)
        session.flush()
        for i in range(REPORTS):
            report = submit_change(session, citizen, ChangeRequest(
                change_type="address", recipients=RECIPIENTS, consent={d: "once" for d in RECIPIENTS},
                answers={"address_line_1": f"{i} Long Lane", "town": "Leeds", "postcode": "LS11 5PS",
                         "move_date": now.date().isoformat()}, submission_key=f"many-{i}"), now=now).report
            queue_email(session, to=citizen.email, subject="Change reported", template="verify_email",
                        context={"link": "https://x.test/v", "hours": 1}, purpose="report_submitted",
                        related_id=report.id)
        for n in session.scalars(select(Notification).where(Notification.department_id != "leeds-council-tax")):
            n.state, n.delivered_at = NotificationState.DELIVERED, now + timedelta(seconds=1)
            session.add(DeliveryAttempt(notification_id=n.id, number=1, worker="bench", started_at=now,
                                        finished_at=now, outcome="delivered", status_code=200, latency_ms=10))
        citizen_id = citizen.id
    engine.dispose()
    return citizen_id


def best_of(action) -> float:  # type: ignore[no-untyped-def]
    durations = []
    for _ in range(TIMES):
        started = time.perf_counter()
        action()
        durations.append(time.perf_counter() - started)
    return min(durations)


def run(url: str) -> dict[str, object]:
    citizen_id = held_account(url)
    engine = make_engine(url)
    size = 0
    with transaction(engine, writer=False) as session:
        citizen = session.get_one(Citizen, citizen_id)

        def download() -> None:
            nonlocal size
            session.expire_all()
            size = len(export_archive(session, citizen, now=utcnow()))

        def read() -> None:
            session.expire_all()
            held_about(session, citizen)

        seconds, read_seconds = best_of(download), best_of(read)
    engine.dispose()
    return {"seconds": round(seconds, 3), "read_seconds": round(read_seconds, 3),
            "ratio": round(read_seconds / seconds, 3), "bytes": size}


def main() -> None:
    runs = {}
    with tempfile.TemporaryDirectory() as workdir:
        runs["sqlite"] = run(f"sqlite:///{Path(workdir) / 'your_data.sqlite3'}")
        if os.environ.get("TELLUSONCE_BENCH_DATABASE_URL"):
            runs["postgresql"] = run(os.environ["TELLUSONCE_BENCH_DATABASE_URL"])
    slowest = max(runs.values(), key=lambda r: r["seconds"])  # type: ignore[arg-type, return-value]
    print(json.dumps({"bench": "your_data", "reports": REPORTS, "target_seconds": 2, **slowest, "runs": runs}))


if __name__ == "__main__":
    main()
