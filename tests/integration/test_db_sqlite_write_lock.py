"""SQLite's one write lock: a waiting writer asks again often and gets it soon after it is free."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from tellusonce import db
from tellusonce.db import engine_for, renew_as_writer, session_factory, transaction
from tellusonce.models import Department


def _hold_write_lock(url: str, taken: threading.Event, seconds: float) -> None:
    with engine_for(url) as engine, transaction(engine) as session:
        session.connection()  # BEGIN IMMEDIATE: the write lock is ours
        taken.set()
        time.sleep(seconds)


@pytest.fixture
def sqlite_url(database_url: str) -> str:
    if not database_url.startswith("sqlite"):
        pytest.skip("the write lock at BEGIN is SQLite's; PostgreSQL has row locks")
    return database_url


def test_a_waiting_writer_takes_the_lock_soon_after_the_other_writer_commits(sqlite_url: str) -> None:
    taken = threading.Event()
    holder = threading.Thread(target=_hold_write_lock, args=(sqlite_url, taken, 0.2))
    holder.start()
    try:
        assert taken.wait(5)
        started = time.monotonic()
        with engine_for(sqlite_url) as engine, transaction(engine) as session:
            session.connection()
            waited = time.monotonic() - started
    finally:
        holder.join()
    assert 0.1 < waited < 0.3


def test_a_writer_gives_up_at_the_busy_timeout(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_MS", 100)
    taken = threading.Event()
    holder = threading.Thread(target=_hold_write_lock, args=(sqlite_url, taken, 0.5))
    holder.start()
    try:
        assert taken.wait(5)
        with engine_for(sqlite_url) as engine, pytest.raises(OperationalError, match="locked"):
            with transaction(engine) as session:
                session.connection()
    finally:
        holder.join()


def test_a_reader_renewed_as_writer_holds_the_lock_on_the_same_connection(sqlite_url: str) -> None:
    with engine_for(sqlite_url) as engine, session_factory(engine)() as session:
        session.execute(select(Department.id)).first()  # a deferred read transaction
        connection = session.connection().connection.driver_connection
        assert renew_as_writer(session.connection()) is None
        assert session.connection().connection.driver_connection is connection
        other = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), timeout=0, isolation_level=None)
        try:
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
            session.rollback()
            other.execute("BEGIN IMMEDIATE")  # given back at the end of the transaction
            other.execute("ROLLBACK")
        finally:
            other.close()
