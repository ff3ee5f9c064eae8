"""A real mail listener on an ephemeral port, on the test database."""

from __future__ import annotations

import dataclasses
import smtplib
from collections.abc import Callable, Iterator
from email.message import EmailMessage

import pytest
from sqlalchemy import Engine

from tellusonce.settings import Settings
from tellusonce_mail.server import ListenerThread


@pytest.fixture
def mail_settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, max_message_bytes=10 * 1024 * 1024, smtp_max_recipients=3, smtp_idle_timeout=5)


@pytest.fixture
def listener(mail_settings: Settings, engine: Engine,
             database_cleaner: Callable[[Engine], None]) -> Iterator[ListenerThread]:
    with ListenerThread(mail_settings, engine=engine) as running:
        yield running
    database_cleaner(engine)


@pytest.fixture
def deliver(listener: ListenerThread):
    """Send a message to the listener over SMTP, as a mail server would."""

    def send(message: EmailMessage | bytes, *, to: str = "changes@tellusonce.test",
             mail_from: str | None = None) -> None:
        with smtplib.SMTP(listener.host, listener.port, timeout=10) as smtp:
            if isinstance(message, bytes):
                smtp.sendmail(mail_from if mail_from is not None else "ada@example.org", [to], message)
            else:
                smtp.send_message(message, from_addr=mail_from, to_addrs=[to])

    return send

