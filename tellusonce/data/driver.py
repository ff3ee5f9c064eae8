"""The outbox's busiest statements, in the database driver's own terms.

A worker claims and records thousands of notifications a second. Through SQLAlchemy's
statement building, bind and result processing each row cost more Python than the
database spent on it, and the worker's event loop waits for that Python (one GIL).
So the few statements on that path are SQL text, written once per dialect and run on the
DBAPI cursor of the SQLAlchemy transaction they belong to (``Driver.execute``: its errors
still come out as SQLAlchemy's), with values in the form the driver stores them:

- SQLite: UUIDs as 32 hex digits and times as naive UTC text, exactly as SQLAlchemy's
  ``Uuid`` and ``UTCDateTime`` write them, so both paths read and write the same rows;
  a list of ids is one JSON array, read with ``json_each``.
- PostgreSQL: values as they are (psycopg adapts ``uuid.UUID`` and aware datetimes
  itself); a list of ids is one array, read with ``= ANY``.

Named parameters are written ``:name``, which sqlite3 takes as it is and which becomes
``%(name)s`` for psycopg. Nothing here knows about notifications: the statements live in
``tellusonce.data.outbox``.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

_NAMED = re.compile(r"(?<![:\w]):(\w+)")


@dataclass(frozen=True)
class Driver:
    """How one dialect takes and gives back values, and how it reads a list of ids."""

    name: str

    @property
    def is_sqlite(self) -> bool:
        return self.name == "sqlite"

    def sql(self, statement: str) -> str:
        """``statement`` with ``:name`` parameters in the driver's own style."""
        return statement if self.is_sqlite else _NAMED.sub(r"%(\1)s", statement)

    def in_ids(self, column: str, parameter: str) -> str:
        """SQL for "``column`` is one of the ids in ``parameter``" (see ``ids``)."""
        if self.is_sqlite:
            return f"{column} IN (SELECT value FROM json_each(:{parameter}))"
        return f"{column} = ANY(:{parameter})"

    def ids(self, values: Iterable[uuid.UUID | str]) -> Any:
        """A list of ids as one parameter; each a UUID or already in the driver's form (``uuid``)."""
        if self.is_sqlite:
            return json.dumps([value if isinstance(value, str) else value.hex for value in values])
        return list(values)

    def uuid(self, value: uuid.UUID | None) -> Any:
        if value is None or not self.is_sqlite:
            return value
        return value.hex

    def time(self, value: datetime | None) -> Any:
        """An aware datetime as the driver stores it (SQLite: naive UTC text)."""
        if value is None:
            return None
        if value.tzinfo is not UTC:
            if value.tzinfo is None:
                raise ValueError("naive datetime given to a UTC column; use tellusonce.clock.utcnow()")
            value = value.astimezone(UTC)
        if not self.is_sqlite:
            return value
        return value.isoformat(sep=" ", timespec="microseconds")[:26]  # without "+00:00"

    def read_uuid(self, value: Any) -> uuid.UUID:
        return uuid.UUID(hex=value) if isinstance(value, str) else value

    def read_time(self, value: Any) -> datetime:
        if isinstance(value, str):
            return datetime.fromisoformat(value).replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def read_json(self, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value

    def execute(self, connection: Connection, statement: str, parameters: Any, *,
                many: bool = False) -> list[tuple[Any, ...]]:
        """Run ``statement`` (from ``sql``) in ``connection``'s transaction; the rows it returns.

        Errors come out as SQLAlchemy's (``OperationalError`` and the rest), and a lost
        connection is invalidated, exactly as when SQLAlchemy runs the statement itself.
        """
        dialect = connection.dialect
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            if many:
                cursor.executemany(statement, parameters)
                return []
            cursor.execute(statement, parameters)
            return cursor.fetchall() if cursor.description else []
        except dialect.loaded_dbapi.Error as error:
            lost = dialect.is_disconnect(error, connection.connection, cursor)
            if lost:
                connection.invalidate(error)
            raise DBAPIError.instance(statement, parameters, error, dialect.loaded_dbapi.Error,
                                      connection_invalidated=lost) from error
        finally:
            cursor.close()


@cache
def _driver(name: str) -> Driver:
    return Driver(name)


def driver_for(connection: Connection) -> Driver:
    return _driver(connection.dialect.name)
