"""Fixtures for the dispatch tests: the department server that every webhook department sends to."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from tests.dispatch_helpers import DepartmentServer, point_at


@pytest.fixture
def departments(committed: Engine, department_server: DepartmentServer) -> DepartmentServer:
    """The department server on 127.0.0.1, with every webhook department of the registry pointed at it."""
    point_at(committed, department_server)
    return department_server
