"""One database session per request, committed only when the response is a success.

Data functions flush and never commit; the request is the unit of work. A 2xx or
3xx response commits, anything else rolls back (funding-service's
auto_commit_after_request). POST, PUT, PATCH and DELETE requests open a writer
session so that SQLite takes its write lock at BEGIN, except views marked
``reads_first``: they read (and do their CPU work) in a deferred transaction
and call ``start_writing`` just before their first write, so that SQLite's one
write lock is held only for the writes themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, has_request_context, request
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from tellusonce.db import is_sqlite, make_engine, renew_as_writer, session_factory

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
F = TypeVar("F", bound=Callable[..., Any])


def init_app(app: Flask, engine: Engine | None = None) -> None:
    engine = engine or make_engine(app.config["DATABASE_URL"])
    app.extensions["tellusonce.engine"] = engine
    app.extensions["tellusonce.sessions"] = (session_factory(engine), session_factory(engine, writer=True))
    app.after_request(_commit_on_success)
    app.teardown_appcontext(_close_session)


def get_session() -> Session:
    """The request's session, opened on first use."""
    if "db_session" not in g:
        readers, writers = current_app.extensions["tellusonce.sessions"]
        writing = has_request_context() and request.method in WRITE_METHODS and not _view_reads_first()
        factory: sessionmaker[Session] = writers if writing else readers
        g.db_session = factory()
    return g.db_session


def reads_first(view: F) -> F:
    """Mark a view that reads before it writes and calls ``start_writing`` before its first write."""
    view.reads_first = True  # type: ignore[attr-defined]  # a mark on the function, read before the view runs
    return view


def _view_reads_first() -> bool:
    view = current_app.view_functions.get(request.endpoint or "")
    return bool(getattr(view, "reads_first", False))


def start_writing(session: Session) -> bool:
    """Take the write lock before writing in a ``reads_first`` view.

    On SQLite a deferred read transaction cannot safely become a writer once
    another writer has committed, so the read transaction ends (nothing has been
    written yet; loaded objects stay loaded) and a ``BEGIN IMMEDIATE`` one starts,
    on the same connection (``renew_as_writer``). Whatever the writes depend on
    must be read again after this. On PostgreSQL the transaction simply goes on.
    Whether a new transaction began (what was read must then be checked again).
    """
    if not is_sqlite(session):
        return False
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("start_writing is called before the first write")
    renew_as_writer(session.connection())
    return True


def _commit_on_success(response: Response) -> Response:
    session: Session | None = g.pop("db_session", None)
    if session is None:
        return response
    try:
        if session.in_transaction():
            if response.status_code < 400:
                session.commit()
            else:
                session.rollback()
    finally:
        session.close()
    return response


def _close_session(_exc: BaseException | None) -> None:
    session: Session | None = g.pop("db_session", None)
    if session is not None:
        session.rollback()
        session.close()
