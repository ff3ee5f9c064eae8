"""Engines and sessions for SQLite (embedded) and PostgreSQL (production).

SQLite runs with WAL, foreign keys and a busy timeout. Python's sqlite3 module
does its own transaction handling, which breaks SAVEPOINTs; it is switched off
and SQLAlchemy emits BEGIN itself — ``BEGIN IMMEDIATE`` for sessions made with
``writer=True`` so that a transaction that will write takes the one write lock
at its start instead of failing half-way when another writer got there first.
A writer waiting for that lock asks again every millisecond or so (up to the busy
timeout) rather than through SQLite's own busy handler, whose waits grow to 100 ms
and leave the lock idle while writers sleep.
"""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 30_000
WRITE_LOCK_POLL_S = 0.001  # how long a waiting writer sleeps before asking for the lock again (plus jitter)


def normalise_url(url: str) -> str:
    """Accept ``postgresql://`` as given by operators; use psycopg 3 for it."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str, **kwargs: Any) -> Engine:
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("connect_args", {})["timeout"] = SQLITE_BUSY_TIMEOUT_MS / 1000
        engine = create_engine(url, **kwargs)
        _configure_sqlite(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        if connection.get_execution_options().get("writer"):
            _begin_immediate(connection)
        else:  # straight to the driver, as BEGIN IMMEDIATE is: a statement that cannot be refused
            connection.connection.driver_connection.execute("BEGIN DEFERRED")


def _begin_immediate(connection: Any) -> None:
    """``BEGIN IMMEDIATE``, asking again for the write lock every millisecond or so until the busy timeout."""
    raw: sqlite3.Connection = connection.connection.driver_connection
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    raw.execute("PRAGMA busy_timeout=0")
    try:
        while time.monotonic() < deadline:
            try:
                raw.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as error:
                if error.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:
                    break
            time.sleep(WRITE_LOCK_POLL_S * (0.5 + random.random()))
        connection.exec_driver_sql("BEGIN IMMEDIATE")  # the last try, failing as SQLAlchemy's OperationalError
    finally:
        raw.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")


def renew_as_writer(connection: Connection) -> None:
    """End SQLite's read transaction on ``connection`` and take the write lock (``BEGIN IMMEDIATE``) on
    the same connection, as the same SQLAlchemy transaction goes on: for work that reads first and then
    writes, with nothing written yet. (Committing the session and beginning another would give the
    connection back to the pool and take it again, for the same two statements.)"""
    raw: sqlite3.Connection = connection.connection.driver_connection  # type: ignore[assignment]  # pysqlite's, on a SQLite engine
    if raw.in_transaction:
        raw.execute("COMMIT")
    _begin_immediate(connection)


def is_sqlite(engine_or_session: Engine | Session) -> bool:
    bind = engine_or_session.get_bind() if isinstance(engine_or_session, Session) else engine_or_session
    return bind.dialect.name == "sqlite"


def session_factory(engine: Engine, *, writer: bool = False) -> sessionmaker[Session]:
    """Sessions on ``engine``; ``writer=True`` takes SQLite's write lock at BEGIN."""
    bind = engine.execution_options(writer=True) if writer else engine
    return sessionmaker(bind=bind, expire_on_commit=False)


@contextmanager
def transaction(engine: Engine, *, writer: bool = True) -> Iterator[Session]:
    """One unit of work outside a web request: commit on success, roll back on error."""
    with session_factory(engine, writer=writer)() as session, session.begin():
        yield session


@contextmanager
def engine_for(url: str, **kwargs: Any) -> Iterator[Engine]:
    """An engine for one command's work, with every connection closed afterwards."""
    engine = make_engine(url, **kwargs)
    try:
        yield engine
    finally:
        engine.dispose()
