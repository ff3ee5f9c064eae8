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
  itself); a list of ids is one array, read with ``= ANY``. Parameters go in binary form:
  psycopg writes an array's text form in Python, element by element with escaping (about
  20 µs a row of ten columns, against 3 in binary, and the server parses less too).

Named parameters are written ``:name``, which sqlite3 takes as it is and which becomes
``%(name)b`` for psycopg. Nothing here knows about notifications: the statements live in
``tellusonce.data.outbox``. Everything else in ``tellusonce.data`` is SQLAlchemy Core or ORM.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any, cast
from uuid import UUID

from sqlalchemy import Connection, CursorResult, Result, Table
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, StatementError

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
        return statement if self.is_sqlite else _NAMED.sub(r"%(\1)b", statement)

    def in_ids(self, column: str, parameter: str) -> str:
        """SQL for "``column`` is one of the ids in ``parameter``" (see ``ids``)."""
        if self.is_sqlite:
            return f"{column} IN (SELECT value FROM json_each(:{parameter}))"
        return f"{column} = ANY(:{parameter})"

    def ids(self, values: Iterable[UUID | str]) -> Any:
        """A list of ids as one parameter; each a UUID or already in the driver's form (``uuid``)."""
        if self.is_sqlite:
            return json.dumps([value if isinstance(value, str) else value.hex for value in values])
        return list(values)

    def uuid(self, value: UUID | None) -> Any:
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

    def read_uuid(self, value: Any) -> UUID:
        return UUID(hex=value) if isinstance(value, str) else cast(UUID, value)

    def read_time(self, value: Any) -> datetime:
        if isinstance(value, str):
            return datetime.fromisoformat(value).replace(tzinfo=UTC)
        return cast(datetime, value).astimezone(UTC)

    def insert_rows(self, connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert ``rows`` (each the same columns, values in the driver's form): one executemany on
        SQLite; on PostgreSQL one statement reading one array per column (``unnest``), so the
        server runs one statement and psycopg does no work per row."""
        if not rows:
            return
        columns = tuple(rows[0])
        statement = _insert_statement(self, table, columns, connection.dialect)
        if self.is_sqlite:
            self.execute(connection, statement, rows, many=True)
        else:
            self.execute(connection, statement, {column: [row[column] for row in rows] for column in columns}, read=False)

    def execute(self, connection: Connection, statement: str, parameters: Any, *,
                many: bool = False, read: bool = True) -> list[tuple[Any, ...]]:
        """Run ``statement`` (from ``sql``) in ``connection``'s transaction; the rows it returns.

        ``read=False`` says its rows are not wanted: inside a psycopg pipeline the statement is
        then only sent, and its answer (or error) is read with the next statement read or at the
        pipeline's end. Errors come out as SQLAlchemy's (``OperationalError`` and the rest), and a
        lost connection is invalidated, exactly as when SQLAlchemy runs the statement itself.
        """
        raw: Any = connection.connection.driver_connection  # sqlite3's or psycopg's own connection
        cursor = raw.cursor()
        try:
            if many:
                cursor.executemany(statement, parameters)
                return []
            cursor.execute(statement, parameters)
            if not self.is_sqlite and raw.pgconn.pipeline_status:
                # In a pipeline nothing is known of the answer until it is read: read it (this
                # waits for it and for everything sent before it), or leave it for later.
                return cursor.fetchall() if read else []
            return cursor.fetchall() if cursor.description else []
        except connection.dialect.loaded_dbapi.Error as error:
            raise _translated(connection, error, statement, parameters, cursor) from error
        finally:
            cursor.close()


def changed_rows(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE changed, or an INSERT run with ``preserve_rowcount`` (its result is a
    cursor's, whatever ``execute`` is typed to give)."""
    return cast(CursorResult[Any], result).rowcount


def _translated(connection: Connection, error: Any, statement: str, parameters: Any, cursor: Any) -> StatementError:
    """``error`` (the driver's own) as SQLAlchemy's, invalidating a lost connection as SQLAlchemy does."""
    dialect = connection.dialect
    lost = dialect.is_disconnect(error, connection.connection, cursor)
    if lost:
        connection.invalidate(error)
    translated: StatementError = DBAPIError.instance(statement, parameters, error, dialect.loaded_dbapi.Error,
                                                     connection_invalidated=lost)
    return translated


@cache
def _insert_statement(driver: Driver, table: Table, columns: tuple[str, ...], dialect: Dialect) -> str:
    names = ", ".join(columns)
    if driver.is_sqlite:
        return f"INSERT INTO {table.name} ({names}) VALUES ({', '.join(':' + c for c in columns)})"
    arrays = ", ".join(f"%({c})b::{table.c[c].type.compile(dialect=dialect)}[]" for c in columns)
    return f"INSERT INTO {table.name} ({names}) SELECT * FROM unnest({arrays})"


@cache
def _driver(name: str) -> Driver:
    return Driver(name)


def driver_for(connection: Connection) -> Driver:
    return _driver(connection.dialect.name)
