"""An object by its primary key, read with a Core statement built once.

The pages read the signed-in citizen and the report's journey on every request. The ORM's load by
key (``Session.get``) costs more than its statement does, so these reads run a prepared ``SELECT``
of the table's columns and put the object into the session as if the ORM had loaded it: changes to
it are flushed as usual, and a second read in the same session returns the same object.
"""

from __future__ import annotations

from typing import Any, TypeVar, cast

from sqlalchemy import Select, Table, bindparam, inspect, select
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.util import identity_key

from tellusonce.models import Base

M = TypeVar("M", bound=Base)


def read_by_key(model: type[M]) -> Select[Any]:
    """The statement ``get_by_key`` runs for ``model``: its table's columns, ``:key`` the primary key."""
    table = cast(Table, model.__table__)
    [key_column] = table.primary_key.columns
    return select(*table.c).where(key_column == bindparam("key"))


def get_by_key(session: Session, model: type[M], key: Any, statement: Select[Any]) -> M | None:
    """The ``model`` with primary key ``key``: the session's own copy when it holds one (read again
    when expired), else read with ``statement`` (``read_by_key(model)``, built once), or None."""
    held = session.identity_map.get(identity_key(model, key))
    if held is not None:
        return session.get(model, key) if inspect(held).expired else held
    row = session.connection().execute(statement, {"key": key}).first()
    if row is None:
        return None
    keys = [str(column.key) for column in statement.selected_columns]
    loaded = model(**dict(zip(keys, row, strict=True)))
    make_transient_to_detached(loaded)  # as if loaded: no attribute is pending
    session.add(loaded)
    return loaded
