"""Fixtures shared by every test.

Every database test runs on the database named by ``TELLUSONCE_TEST_DATABASE_URL``
(PostgreSQL in CI's second pass) or, without it, on a SQLite file; the test id
says which (``[sqlite]`` or ``[postgresql]``). The schema is built once per run
by the Alembic migrations, exactly as ``tellusonce db upgrade`` builds it.

- ``db_session``: a session inside a transaction that is rolled back after the
  test (savepoints let the code under test commit-by-flush as it would).
- ``app`` / ``client`` / ``runner``: the Flask app on the same database; rows it
  commits are deleted after the test.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import Engine, delete, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from tellusonce import create_app
from tellusonce.clock import ShiftedClock, set_clock
from tellusonce.db import make_engine, normalise_url
from tellusonce.migrate import wipe_and_upgrade
from tellusonce.models import Base
from tellusonce.settings import PROJECT_ROOT, Settings
from tests.factories import NOW

TEST_DATABASE_URL = os.environ.get("TELLUSONCE_TEST_DATABASE_URL", "")
TEST_SECRET_KEY = "test-secret-key-that-is-long-enough-for-production-rules"
REGISTRY = PROJECT_ROOT / "config" / "departments.toml"


def _database_kind() -> str:
    return make_url(normalise_url(TEST_DATABASE_URL)).get_backend_name() if TEST_DATABASE_URL else "sqlite"


def _worker_suffix() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "")


def _postgres_url_for_run() -> str:
    """The configured PostgreSQL database, or one per xdist worker made beside it."""
    url = make_url(normalise_url(TEST_DATABASE_URL))
    suffix = _worker_suffix()
    if not suffix:
        return url.render_as_string(hide_password=False)
    name = f"{url.database}_{suffix}"
    admin = make_engine(url.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        exists = connection.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).scalar()
        if not exists:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(autouse=True)
def clock() -> Iterator[ShiftedClock]:
    """The service's clock in every test: it starts at ``NOW`` and runs on from there, so that
    no test meets the calendar; ``clock.advance(...)`` moves it, ``factories.clock_env()`` hands it
    to a process the test starts."""
    clock = ShiftedClock.starting_at(NOW)
    previous = set_clock(clock)
    yield clock
    set_clock(previous)


@pytest.fixture(scope="session", params=[_database_kind()])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A freshly migrated database for this test run."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
    else:
        url = _postgres_url_for_run()
    wipe_and_upgrade(url)
    yield url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    _load_registry(engine)
    yield engine
    engine.dispose()


def _load_registry(engine: Engine) -> None:
    from tellusonce.db import transaction
    from tellusonce_services.registry import load_registry, sync_registry

    with transaction(engine) as session:
        sync_registry(session, load_registry(REGISTRY))


@pytest.fixture
def db_session(engine: Engine) -> Iterator[Session]:
    """A session whose work is rolled back after the test."""
    connection = engine.connect()
    outer = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield session
    finally:
        session.close()
        outer.rollback()
        connection.close()


def clean_database(engine: Engine) -> None:
    """Delete every row the test committed, keeping the department registry."""
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name != "department":
                connection.execute(delete(table))


@pytest.fixture(scope="session")
def database_cleaner() -> Callable[[Engine], None]:
    """``clean_database``, for fixtures in other conftest files (which cannot import this one)."""
    return clean_database


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        mode="test",
        secret_key=TEST_SECRET_KEY,
        database_url=database_url,
        instance_path=tmp_path / "instance",
        mail_domain="tellusonce.test",
        outbound_mail="capture",
        departments=REGISTRY,
    )


@pytest.fixture
def app(settings: Settings, engine: Engine) -> Iterator[Flask]:
    app = create_app(settings)
    yield app
    app.extensions["tellusonce.engine"].dispose()
    clean_database(engine)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests run last: Playwright's sync API keeps an event loop running in this
    thread until its session fixture ends, and tests after it may need ``asyncio.run``."""
    items.sort(key=lambda item: "/tests/browser/" in str(item.path))
