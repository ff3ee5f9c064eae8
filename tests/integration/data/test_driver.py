"""The outbox's driver statements write and read values exactly as SQLAlchemy's types do,
so rows written by one path are found and compared correctly by the other."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Column, MetaData, String, Table, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.types import Uuid

from tellusonce.data.driver import driver_for
from tellusonce.models.base import UTCDateTime

metadata = MetaData()
probe = Table("driver_probe", metadata, Column("id", Uuid, primary_key=True), Column("at", UTCDateTime),
              Column("label", String(20)))


@pytest.fixture
def probe_table(db_session: Session):  # type: ignore[no-untyped-def]
    connection = db_session.connection()
    metadata.create_all(connection)
    yield connection
    db_session.rollback()
    metadata.drop_all(db_session.get_bind())


TIMES = [datetime(2026, 11, 22, 9, 30, tzinfo=UTC), datetime(2026, 11, 22, 9, 30, 0, 7, tzinfo=UTC),
         datetime(2026, 11, 22, 11, 30, 0, 123456, tzinfo=timezone(timedelta(hours=2)))]


def test_values_written_by_the_driver_read_back_through_sqlalchemy(probe_table) -> None:  # type: ignore[no-untyped-def]
    driver = driver_for(probe_table)
    rows = [(uuid.uuid4(), at) for at in TIMES]
    driver.execute(probe_table, driver.sql("INSERT INTO driver_probe (id, at, label) VALUES (:id, :at, 'driver')"),
                   [{"id": driver.uuid(id_), "at": driver.time(at)} for id_, at in rows], many=True)
    assert sorted(probe_table.execute(select(probe.c.id, probe.c.at)).all()) == sorted(rows)


def test_rows_inserted_in_one_statement_read_back_through_sqlalchemy_nulls_included(probe_table) -> None:  # type: ignore[no-untyped-def]
    driver = driver_for(probe_table)
    rows = [{"id": uuid.uuid4(), "at": at, "label": label} for at, label in zip(TIMES, ("a", None, "c"), strict=True)]
    rows.append({"id": uuid.uuid4(), "at": None, "label": None})
    driver.insert_rows(probe_table, probe, [{"id": driver.uuid(r["id"]), "at": driver.time(r["at"]),
                                             "label": r["label"]} for r in rows])
    # A column whose every value is NULL in a batch (an error column when all went well).
    driver.insert_rows(probe_table, probe, [{"id": driver.uuid(uuid.uuid4()), "at": None, "label": None}])
    read = {row.id: (row.at, row.label) for row in probe_table.execute(select(probe))}
    assert len(read) == 5
    assert all(read[r["id"]] == (r["at"], r["label"]) for r in rows)


def test_values_written_by_sqlalchemy_are_found_and_compared_by_the_driver(probe_table) -> None:  # type: ignore[no-untyped-def]
    driver = driver_for(probe_table)
    rows = [{"id": uuid.uuid4(), "at": at, "label": f"row {i}"} for i, at in enumerate(TIMES)]
    probe_table.execute(probe.insert(), rows)
    wanted = [rows[0]["id"], rows[2]["id"]]
    found = driver.execute(
        probe_table, driver.sql(f"SELECT id, at FROM driver_probe WHERE {driver.in_ids('id', 'ids')} AND at <= :until"),
        {"ids": driver.ids(wanted), "until": driver.time(TIMES[0])},
    )
    # The third is the same instant as the first plus 123456 µs, written from another zone: later, not found.
    assert [(driver.read_uuid(id_), driver.read_time(at)) for id_, at in found] == [(rows[0]["id"], TIMES[0])]


def test_a_naive_time_is_refused(probe_table) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="naive"):
        driver_for(probe_table).time(datetime(2026, 11, 22, 9, 30))


def test_errors_come_out_as_sqlalchemys_so_callers_handle_them_as_before(probe_table) -> None:  # type: ignore[no-untyped-def]
    driver = driver_for(probe_table)
    with pytest.raises(DBAPIError) as raised:
        driver.execute(probe_table, driver.sql("SELECT id FROM no_such_table WHERE id = :id"), {"id": "x"})
    assert "no_such_table" in str(raised.value)
