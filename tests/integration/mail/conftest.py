"""A real mail listener on an ephemeral port, on the test database."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from mail.server import ListenerThread
from tellusonce.settings import Settings
from tests.conftest import clean_database


@pytest.fixture
def mail_settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, max_message_bytes=10 * 1024 * 1024, smtp_max_recipients=3, smtp_idle_timeout=5)


@pytest.fixture
def listener(mail_settings: Settings, engine: Engine) -> Iterator[ListenerThread]:
    with ListenerThread(mail_settings, engine=engine) as running:
        yield running
    clean_database(engine)
