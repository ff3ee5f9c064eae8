"""Fixtures for integration tests: a department server on 127.0.0.1 and a database the code under test commits to."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from tests.conftest import clean_database
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
