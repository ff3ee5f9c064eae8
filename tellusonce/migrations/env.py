"""Alembic environment: the URL comes from the caller (tellusonce.migrate), never a file."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from tellusonce.db import make_engine
from tellusonce.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("tellusonce.migrate gives the database URL as sqlalchemy.url")
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            _run(connection)
    finally:  # a migration that fails (0003's downgrade refuses) leaves no connection open
        engine.dispose()


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
