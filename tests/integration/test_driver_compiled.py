"""Statements compiled once (``Compiled``) write and read values exactly as SQLAlchemy's own
execution does, so rows written by either path are read alike by both."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import JSON, Column, Integer, MetaData, String, Table, bindparam, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.types import Uuid

from tellusonce.data.driver import Compiled, pipelined
from tellusonce.models.base import UTCDateTime

metadata = MetaData()
probe = Table("compiled_probe", metadata, Column("id", Uuid, primary_key=True), Column("at", UTCDateTime),
              Column("label", String(20)), Column("body", JSON), Column("n", Integer, default=7))

ROWS = [
    {"id": uuid.uuid4(), "at": datetime(2026, 11, 22, 9, 30, tzinfo=UTC), "label": "first", "body": {"é": [1, None]}, "n": 1},
    {"id": uuid.uuid4(), "at": datetime(2026, 11, 22, 11, 30, 0, 7, tzinfo=timezone(timedelta(hours=2))),
     "label": "second", "body": {"k": "v"}, "n": 2},
]
INSERT = Compiled(insert(probe))
BY_LABEL = Compiled(select(probe.c.id, probe.c.at, probe.c.body).where(probe.c.label == bindparam("label")))
SECOND = Compiled(select(probe.c.id).where(probe.c.label == "second", probe.c.at <= bindparam("until")))


@pytest.fixture
def probe_table(db_session: Session):  # type: ignore[no-untyped-def]
    connection = db_session.connection()
    metadata.create_all(connection)
    yield connection
    db_session.rollback()
    metadata.drop_all(db_session.get_bind())


def test_rows_written_compiled_read_back_through_sqlalchemy(probe_table) -> None:  # type: ignore[no-untyped-def]
    INSERT.many(probe_table, ROWS)
    read = probe_table.execute(select(probe.c.id, probe.c.at, probe.c.body).order_by(probe.c.n)).all()
    assert [tuple(r) for r in read] == [(r["id"], r["at"], r["body"]) for r in ROWS]


def test_rows_written_by_sqlalchemy_are_found_and_read_compiled(probe_table) -> None:  # type: ignore[no-untyped-def]
    probe_table.execute(insert(probe), ROWS)
    assert BY_LABEL.rows(probe_table, {"label": "second"}) == [(ROWS[1]["id"], ROWS[1]["at"], ROWS[1]["body"])]
    # A value written into the statement ("second") is sent too; times compare as instants across zones.
    assert SECOND.rows(probe_table, {"until": ROWS[1]["at"]}) == [(ROWS[1]["id"],)]
    assert SECOND.rows(probe_table, {"until": ROWS[1]["at"] - timedelta(microseconds=1)}) == []


def test_an_insert_needs_every_column_with_a_python_default(probe_table) -> None:  # type: ignore[no-untyped-def]
    row = {k: v for k, v in ROWS[0].items() if k != "n"}
    with pytest.raises(ValueError, match="default"):
        INSERT.rows(probe_table, row)


def test_errors_come_out_as_sqlalchemys(probe_table) -> None:  # type: ignore[no-untyped-def]
    INSERT.rows(probe_table, ROWS[0])
    with pytest.raises(IntegrityError):
        INSERT.rows(probe_table, ROWS[0])


def test_pipelined_statements_are_all_written_and_a_read_between_them_sees_the_earlier_ones(probe_table) -> None:  # type: ignore[no-untyped-def]
    with pipelined(probe_table):
        INSERT.many(probe_table, ROWS[:1])
        assert BY_LABEL.rows(probe_table, {"label": "first"}) == [(ROWS[0]["id"], ROWS[0]["at"], ROWS[0]["body"])]
        INSERT.rows(probe_table, ROWS[1])
    assert probe_table.execute(select(probe.c.label).order_by(probe.c.n)).scalars().all() == ["first", "second"]


def test_an_error_in_a_pipeline_comes_out_as_sqlalchemys_by_the_end_of_the_block(probe_table) -> None:  # type: ignore[no-untyped-def]
    INSERT.rows(probe_table, ROWS[0])
    with pytest.raises(IntegrityError), pipelined(probe_table):
        INSERT.rows(probe_table, ROWS[1])
        INSERT.rows(probe_table, ROWS[0])  # the same id again
