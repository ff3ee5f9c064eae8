"""Fixtures for integration tests: a department server on 127.0.0.1, a database the code under test commits to,
and the registry as shipped (``shipped_registry``; ``tv_licensing_states_nothing``,
``tv_licensing_without_welsh``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, update

from tellusonce.db import transaction
from tellusonce.models import Department
from tellusonce_services.registry import load_registry, sync_registry
from tests.conftest import REGISTRY, clean_database
from tests.dispatch_helpers import DepartmentServer, reset_departments


@pytest.fixture
def department_server() -> Iterator[DepartmentServer]:
    with DepartmentServer() as server:
        yield server


@pytest.fixture
def committed(engine: Engine) -> Iterator[Engine]:
    """The engine, for tests whose workers commit; every row is deleted and the registry restored after."""
    clean_database(engine)
    reset_departments(engine)
    yield engine
    clean_database(engine)
    reset_departments(engine)


@pytest.fixture
def shipped_registry(engine: Engine) -> Iterator[None]:
    with transaction(engine) as session:  # from the registry as shipped, whatever an earlier test synced
        sync_registry(session, load_registry(REGISTRY))
    try:
        yield
    finally:
        with transaction(engine) as session:
            sync_registry(session, load_registry(REGISTRY))


@pytest.fixture
def tv_licensing_states_nothing(engine: Engine, shipped_registry: None) -> None:
    with transaction(engine) as session:
        session.execute(update(Department).where(Department.id == "tv-licensing").values(
            lawful_basis=None, lawful_basis_cy=None, retention=None, retention_cy=None))
        session.execute(update(Department).where(Department.id == "hmrc").values(retention_cy=None))


@pytest.fixture
def tv_licensing_without_welsh(engine: Engine, shipped_registry: None) -> None:
    with transaction(engine) as session:
        session.execute(update(Department).where(Department.id == "tv-licensing").values(name_cy=None, purpose_cy=None))
