"""The registry as the intake plans against it: kept between transactions, read again once it changes."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from tellusonce.data.departments import list_departments, registry
from tellusonce.db import session_factory, transaction
from tellusonce.models import Department
from tellusonce_services.registry import load_registry, sync_registry
from tests.conftest import REGISTRY


def test_the_registry_is_the_active_departments_as_the_query_gives_them(db_session: Session) -> None:
    kept = registry(db_session)
    def entry(d: Department) -> tuple[object, ...]:
        return d.id, d.name, d.controller, d.purpose, d.name_cy, d.purpose_cy, d.receives, d.reasons

    assert [entry(d) for d in kept] == [entry(d) for d in list_departments(db_session)]
    assert [(d.channel, d.needs_protected_address, d.active) for d in kept] == [
        (d.channel, d.needs_protected_address, d.active) for d in list_departments(db_session)]


def test_the_registry_is_kept_while_the_table_is_unchanged_and_belongs_to_no_session(db_session: Session) -> None:
    first = registry(db_session)
    assert registry(db_session) is first
    assert not any(department in db_session for department in first)


def test_a_change_in_this_transaction_counts_before_it_is_flushed(db_session: Session) -> None:
    assert "dvla" in {d.id for d in registry(db_session)}
    db_session.get_one(Department, "dvla").active = False
    assert "dvla" not in {d.id for d in registry(db_session)}


def test_a_change_committed_elsewhere_is_seen_by_the_next_transaction(engine: Engine) -> None:
    sessions = session_factory(engine)
    with sessions() as session:
        assert {d.id: d.name for d in registry(session)}["hmrc"] != "Renamed"
    with transaction(engine) as other:
        other.execute(update(Department).where(Department.id == "hmrc").values(name="Renamed"))
    try:
        with sessions() as session:
            assert {d.id: d.name for d in registry(session)}["hmrc"] == "Renamed"
    finally:
        with transaction(engine) as other:
            sync_registry(other, load_registry(REGISTRY))
    with sessions() as session:
        assert {d.id: d.name for d in registry(session)}["hmrc"] != "Renamed"


def test_a_change_stamped_by_a_clock_behind_the_last_one_is_still_seen(engine: Engine, clock) -> None:
    sessions = session_factory(engine)
    with sessions() as session:
        assert {d.id: d.name for d in registry(session)}["hmrc"] != "Renamed"
    clock.advance(timedelta(days=-400))  # another host's clock, or this one's set back
    try:
        with transaction(engine) as other:
            other.get_one(Department, "hmrc").name = "Renamed"
        with sessions() as session:
            assert {d.id: d.name for d in registry(session)}["hmrc"] == "Renamed"
    finally:
        with transaction(engine) as other:
            sync_registry(other, load_registry(REGISTRY))
