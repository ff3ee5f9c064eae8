"""The receiver's own SQLite file: every event once, whether it has been acknowledged, and
how far each feed department's feed has been read."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS event (
    webhook_id TEXT PRIMARY KEY,
    department TEXT NOT NULL,
    received_at TEXT NOT NULL,
    type TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    deliveries INTEGER NOT NULL DEFAULT 1,
    acked_at TEXT,
    ack_error TEXT
);
CREATE INDEX IF NOT EXISTS event_department ON event (department, received_at);
CREATE INDEX IF NOT EXISTS event_unacked ON event (acked_at);
CREATE TABLE IF NOT EXISTS feed_cursor (
    department TEXT PRIMARY KEY,
    after TEXT
);
PRAGMA user_version = 1;
"""


@dataclass(frozen=True)
class StoredEvent:
    webhook_id: str
    department: str
    received_at: str
    type: str
    subject: str
    body: str
    deliveries: int
    acked_at: str | None
    ack_error: str | None

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)


class Store:
    """The receiver's SQLite file, with its tables from the moment the store is made.

    Every connection checks for them (the schema's ``user_version``, in the file's header):
    ``sqlite3.connect`` makes an empty database where the file has gone (an instance folder
    emptied under a running receiver), and the acker's next pass would meet ``no such table``.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self.connect():
            pass

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.path, timeout=30, isolation_level=None)) as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA busy_timeout=30000")
            if db.execute("PRAGMA user_version").fetchone()[0] == 0:
                db.executescript(SCHEMA)
            yield db

    def add(self, *, webhook_id: str, department: str, type_: str, subject: str, body: bytes) -> bool:
        """Keep the event; False when this webhook-id was already kept (a redelivery)."""
        now = datetime.now(UTC).isoformat(timespec="seconds")
        with self.connect() as db:
            inserted = db.execute(
                "INSERT OR IGNORE INTO event (webhook_id, department, received_at, type, subject, body) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (webhook_id, department, now, type_, subject, body.decode("utf-8")),
            ).rowcount
            if not inserted:
                db.execute("UPDATE event SET deliveries = deliveries + 1 WHERE webhook_id = ?", (webhook_id,))
        return bool(inserted)

    def inbox(self, department: str, *, limit: int = 200) -> list[StoredEvent]:
        with self.connect() as db:
            rows = db.execute(
                "SELECT webhook_id, department, received_at, type, subject, body, deliveries, acked_at, ack_error "
                "FROM event WHERE department = ? ORDER BY received_at DESC, rowid DESC LIMIT ?",
                (department, limit),
            ).fetchall()
        return [StoredEvent(*row) for row in rows]

    def counts(self) -> dict[str, tuple[int, int]]:
        """department -> (events, not yet acknowledged)."""
        with self.connect() as db:
            rows = db.execute(
                "SELECT department, count(*), sum(acked_at IS NULL) FROM event GROUP BY department"
            ).fetchall()
        return {d: (n, int(unacked or 0)) for d, n, unacked in rows}

    def unacked(self, departments: list[str], *, limit: int = 100) -> list[tuple[str, str]]:
        if not departments:
            return []
        marks = ",".join("?" * len(departments))
        with self.connect() as db:
            rows = db.execute(
                f"SELECT webhook_id, department FROM event WHERE acked_at IS NULL AND department IN ({marks}) "
                "ORDER BY received_at LIMIT ?",
                (*departments, limit),
            ).fetchall()
        return [(w, d) for w, d in rows]

    def mark_acked(self, webhook_id: str, *, error: str | None = None) -> None:
        now = datetime.now(UTC).isoformat(timespec="seconds")
        with self.connect() as db:
            db.execute("UPDATE event SET acked_at = ?, ack_error = ? WHERE webhook_id = ?", (now, error, webhook_id))

    def note_ack_error(self, webhook_id: str, error: str) -> None:
        with self.connect() as db:
            db.execute("UPDATE event SET ack_error = ? WHERE webhook_id = ?", (error[:300], webhook_id))

    def feed_cursor(self, department: str) -> str | None:
        """The ``next_cursor`` the department's feed gave last, or None to read it from the start."""
        with self.connect() as db:
            row = db.execute("SELECT after FROM feed_cursor WHERE department = ?", (department,)).fetchone()
        return row[0] if row else None

    def set_feed_cursor(self, department: str, after: str | None) -> None:
        with self.connect() as db:
            db.execute("INSERT INTO feed_cursor (department, after) VALUES (?, ?) "
                       "ON CONFLICT (department) DO UPDATE SET after = excluded.after", (department, after))
