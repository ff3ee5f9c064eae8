"""Schema migrations through Alembic, driven from code so no alembic.ini is needed."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from tellusonce.db import normalise_url
from tellusonce.resources import MIGRATIONS


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision`` (default: the newest)."""
    command.upgrade(alembic_config(url), revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def wipe_and_upgrade(url: str) -> None:
    """Destroy everything in the database at ``url`` and build the newest schema.

    For tests and benchmarks only, which each want a database of their own: on
    PostgreSQL the ``public`` schema is dropped, on SQLite the file is removed.
    """
    from tellusonce.db import engine_for

    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() == "postgresql":
        with engine_for(url) as engine, engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    elif parsed.database and parsed.database != ":memory:":
        for suffix in ("", "-wal", "-shm"):
            Path(parsed.database + suffix).unlink(missing_ok=True)
    upgrade(url)
