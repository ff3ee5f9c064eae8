"""One database session per request, committed only when the response is a success.

Data functions flush and never commit; the request is the unit of work. A 2xx or
3xx response commits, anything else rolls back (funding-service's
auto_commit_after_request). POST, PUT, PATCH and DELETE requests open a writer
session so that SQLite takes its write lock at BEGIN.
"""

from __future__ import annotations

from flask import Flask, Response, current_app, g, has_request_context, request
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from tellusonce.db import make_engine, session_factory

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def init_app(app: Flask, engine: Engine | None = None) -> None:
    engine = engine or make_engine(app.config["DATABASE_URL"])
    app.extensions["tellusonce.engine"] = engine
    app.extensions["tellusonce.sessions"] = (session_factory(engine), session_factory(engine, writer=True))
    app.after_request(_commit_on_success)
    app.teardown_appcontext(_close_session)


def get_engine() -> Engine:
    return current_app.extensions["tellusonce.engine"]


def get_session() -> Session:
    """The request's session, opened on first use."""
    if "db_session" not in g:
        readers, writers = current_app.extensions["tellusonce.sessions"]
        writing = has_request_context() and request.method in WRITE_METHODS
        factory: sessionmaker[Session] = writers if writing else readers
        g.db_session = factory()
    return g.db_session


def _commit_on_success(response: Response) -> Response:
    session: Session | None = g.pop("db_session", None)
    if session is None:
        return response
    try:
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
