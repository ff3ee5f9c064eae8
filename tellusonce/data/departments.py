"""Queries about departments."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session, make_transient_to_detached

from tellusonce.models import Department

_ALL = select(Department).order_by(Department.name)
_ACTIVE = _ALL.where(Department.active.is_(True))

_TABLE = cast(Table, Department.__table__)
_VERSION = select(func.count(), func.coalesce(func.sum(_TABLE.c.revision), 0))
_ACTIVE_ROWS = select(*_TABLE.c).where(_TABLE.c.active.is_(True)).order_by(_TABLE.c.name)
_COLUMN_KEYS = tuple(column.key for column in _TABLE.c)
_registry: dict[Any, tuple[tuple[Any, ...], tuple[Department, ...]]] = {}


def list_departments(session: Session, *, include_inactive: bool = False) -> Sequence[Department]:
    return session.scalars(_ALL if include_inactive else _ACTIVE).all()


def registry(session: Session) -> Sequence[Department]:
    """The active departments, as ``list_departments`` gives them, for reading only.

    Every submission plans against the whole registry, and loading it as objects cost
    more than the rest of the plan. So this process keeps it between transactions, and
    each call asks the database only for the table's version: how many departments
    there are and the sum of their revisions (every update adds one to a row's
    ``revision``, and departments are never deleted). Not the newest ``updated_at``: an
    update stamped by a clock behind the last one would leave it unchanged. A changed registry, committed by any process or
    pending in this transaction, is read again. The objects belong to no session: read
    them, never change them or attach them to one.
    """
    if session.autoflush and (session.new or session.dirty or session.deleted):
        session.flush()  # as the ORM query would, so that this transaction's own changes count
    connection = session.connection()
    version = tuple(connection.execute(_VERSION).one())
    key = connection.engine.url
    held = _registry.get(key)
    if held is not None and held[0] == version:
        return held[1]
    departments = tuple(_detached(tuple(row)) for row in connection.execute(_ACTIVE_ROWS))
    _registry[key] = (version, departments)
    return departments


def _detached(row: tuple[Any, ...]) -> Department:
    department = Department(**dict(zip(_COLUMN_KEYS, row, strict=True)))
    make_transient_to_detached(department)  # as if loaded, and in no session
    return department


def get_department(session: Session, department_id: str) -> Department | None:
    return session.get(Department, department_id)


def departments_for_change_type(session: Session, change_type: str) -> list[Department]:
    return [d for d in list_departments(session) if d.accepts(change_type)]
