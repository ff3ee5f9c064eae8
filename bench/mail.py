"""Mail benchmark: messages accepted per second, the listener against a bare aiosmtpd handler.

In one run, on one database (a fresh SQLite file, or TELLUSONCE_BENCH_DATABASE_URL):

- ceiling: a plain aiosmtpd server whose handler only inserts the raw bytes into a
  one-column table and commits, then answers 250;
- project: the real listener (``tellusonce_mail.server.MailListener``: recipient checks, SIZE,
  chunked DATA, the envelope and raw bytes committed by the message store before 250).

Each server runs in its own process; four client threads send the same ~1 KB
message, first over 4 persistent connections, then with a new connection per
message, in three alternating rounds of a few seconds (each server's best round
counts, so that other work on the machine does not favour either). Prints one JSON line at the end: {"bench": "mail",
"ratio": …, "project_per_s": …, "ceiling_per_s": …} where the ratio is the lower of
the two scenarios' ratios and the rates are those of the persistent connections.
Takes under a minute; not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import smtplib
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, func, text  # noqa: E402

from tellusonce.db import make_engine, transaction  # noqa: E402
from tellusonce.migrate import upgrade  # noqa: E402
from tellusonce.models import InboundMessage  # noqa: E402
from tellusonce.settings import Settings  # noqa: E402

CLIENTS = 4
SECONDS = float(os.environ.get("TELLUSONCE_BENCH_SECONDS", "3"))  # per round
ROUNDS = 3
DOMAIN = "tellusonce.bench"
MESSAGE = (
    b"From: Ada Okafor <ada@example.org>\r\nTo: changes@tellusonce.bench\r\nSubject: Moving house\r\n"
    b"Message-ID: <bench@example.org>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    b"Hello,\r\n\r\nChange: moving house\r\nNew address: 5 Park Road, Leeds, LS2 9JT\r\n"
    b"Date of move: 1 November 2026\r\nTell: DVLA, HMRC\r\n\r\nThanks,\r\nAda\r\n"
) + b"x" * 600 + b"\r\n"


# -- the two servers, each run in its own process ----------------------------------------


class RawOnly:
    """The ceiling: store the raw bytes, commit, answer 250."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:  # noqa: N802
        with self.engine.begin() as connection:
            connection.execute(text("INSERT INTO bench_raw (raw) VALUES (:raw)"),
                               {"raw": envelope.original_content})  # type: ignore[attr-defined]
        return "250 OK"


def serve(kind: str, url: str) -> None:
    from aiosmtpd.smtp import SMTP

    from tellusonce_mail.server import MailListener

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        if kind == "project":
            settings = Settings(mode="test", secret_key="b" * 40, database_url=url, mail_domain=DOMAIN,
                                smtp_max_recipients=10)
            listener = MailListener(settings)
            _, port = await listener.start("127.0.0.1", 0)
        else:
            engine = make_engine(url)
            handler = RawOnly(engine)
            server = await loop.create_server(lambda: SMTP(handler, hostname=DOMAIN), "127.0.0.1", 0)
            port = server.sockets[0].getsockname()[1]
        print(port, flush=True)
        await stop.wait()
        if kind == "project":
            await listener.close()
        else:
            server.close()
            engine.dispose()

    asyncio.run(main())


# -- the clients ---------------------------------------------------------------------------


def _persistent(port: int, until: float, counts: list[int], index: int) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        while time.monotonic() < until:
            smtp.sendmail("ada@example.org", [f"changes@{DOMAIN}"], MESSAGE)
            counts[index] += 1


def _new_connections(port: int, until: float, counts: list[int], index: int) -> None:
    while time.monotonic() < until:
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
            smtp.sendmail("ada@example.org", [f"changes@{DOMAIN}"], MESSAGE)
        counts[index] += 1


def measure(port: int, client) -> float:  # type: ignore[no-untyped-def]
    counts = [0] * CLIENTS
    until = time.monotonic() + SECONDS
    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(port, until, counts, i)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.monotonic() - started)


def run_server(kind: str, url: str) -> tuple[subprocess.Popen[str], int]:
    process = subprocess.Popen([sys.executable, __file__, "--serve", kind, "--database-url", url],
                               stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert process.stdout is not None
    return process, int(process.stdout.readline())


def stop_server(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    if process.stdout is not None:
        process.stdout.close()


def stored(url: str) -> tuple[int, int]:
    engine = make_engine(url)
    try:
        with transaction(engine, writer=False) as session:
            project = session.scalar(func.count(InboundMessage.id).select()) or 0
            ceiling = session.execute(text("SELECT count(*) FROM bench_raw")).scalar() or 0
    finally:
        engine.dispose()
    return project, ceiling


def main() -> None:
    folder = tempfile.TemporaryDirectory()
    url = os.environ.get("TELLUSONCE_BENCH_DATABASE_URL") or f"sqlite:///{folder.name}/bench.sqlite3"
    upgrade(url)
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS bench_raw"))
        blob = "BYTEA" if engine.dialect.name == "postgresql" else "BLOB"
        key = "SERIAL PRIMARY KEY" if engine.dialect.name == "postgresql" else "INTEGER PRIMARY KEY"
        connection.execute(text(f"CREATE TABLE bench_raw (id {key}, raw {blob} NOT NULL)"))
        connection.execute(text("DELETE FROM inbound_message"))
    engine.dispose()
    results: dict[str, dict[str, float]] = {}
    servers = {kind: run_server(kind, url) for kind in ("ceiling", "project")}
    try:
        for scenario, client in (("persistent", _persistent), ("new_connection", _new_connections)):
            # Alternate the two servers and keep each one's best round: other work on the
            # machine then slows both alike instead of whichever happened to run at the time.
            rounds: dict[str, list[float]] = {kind: [] for kind in servers}
            for _ in range(ROUNDS):
                for kind, (_, port) in servers.items():
                    rounds[kind].append(measure(port, client))
            results[scenario] = {kind: max(rates) for kind, rates in rounds.items()}
            for kind, rate in results[scenario].items():
                print(f"{scenario:15} {kind:8} {rate:8.1f} messages/s (rounds: "
                      f"{', '.join(f'{r:.0f}' for r in rounds[kind])})", file=sys.stderr)
    finally:
        for process, _ in servers.values():
            stop_server(process)
    project_rows, ceiling_rows = stored(url)
    ratios = {s: r["project"] / r["ceiling"] for s, r in results.items()}
    print(json.dumps({
        "bench": "mail",
        "ratio": round(min(ratios.values()), 3),
        "project_per_s": round(results["persistent"]["project"], 1),
        "ceiling_per_s": round(results["persistent"]["ceiling"], 1),
        "new_connection": {"ratio": round(ratios["new_connection"], 3),
                           "project_per_s": round(results["new_connection"]["project"], 1),
                           "ceiling_per_s": round(results["new_connection"]["ceiling"], 1)},
        "persistent_ratio": round(ratios["persistent"], 3),
        "stored": {"project": project_rows, "ceiling": ceiling_rows},
        "database": make_engine(url).dialect.name,
        "clients": CLIENTS,
        "seconds_per_round": SECONDS,
        "rounds": ROUNDS,
    }))
    folder.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--serve", choices=("project", "ceiling"))
    parser.add_argument("--database-url")
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.database_url)
    else:
        main()
