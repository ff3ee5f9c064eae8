"""Whether each part `tellusonce demo` starts answers yet, asked as a visitor would ask it.

The web and the receiver answer HTTP, the mail listener greets (220) and answers EHLO, and the
dispatcher has beaten since the demo started it. A part without a probe here (the mail sender)
is ready while its process runs. The demo says it is running only once every part is ready.
"""

from __future__ import annotations

import smtplib
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine

from tellusonce.data.dispatch import worker_beating_since
from tellusonce.db import transaction
from tellusonce.settings import Settings

PROBE_TIMEOUT_SECONDS = 10.0  # a first request on a busy machine can take seconds


def http_answers(url: str) -> bool:
    """An HTTP answer below 500 (a refused or hung connection, or a server error, is not)."""
    try:
        with urllib.request.urlopen(url, timeout=PROBE_TIMEOUT_SECONDS) as response:  # noqa: S310 - our own address
            return bool(response.status < 500)
    except urllib.error.HTTPError as error:
        return error.code < 500
    except OSError:
        return False


def smtp_answers(address: str) -> bool:
    """The listener's 220 greeting, then 250 to EHLO."""
    host, _, port = address.rpartition(":")
    try:
        with smtplib.SMTP(host, int(port), timeout=PROBE_TIMEOUT_SECONDS) as client:
            return client.ehlo()[0] == 250
    except (OSError, smtplib.SMTPException):
        return False


def dispatcher_beating(engine: Engine, since: datetime) -> bool:
    try:
        with transaction(engine, writer=False) as session:
            return worker_beating_since(session, since=since)
    except Exception:  # noqa: BLE001 - a database still being created is simply "not yet"
        return False


def probes(settings: Settings, engine: Engine, since: datetime) -> dict[str, Callable[[], bool]]:
    """{part name, as `tellusonce demo` names it: whether it answers now}."""
    return {
        "web": lambda: http_answers(f"http://{settings.web_listen}/healthz"),
        "receiver": lambda: http_answers(f"http://{settings.receiver_listen}/"),
        "mail listener": lambda: smtp_answers(settings.smtp_listen),
        "dispatcher": lambda: dispatcher_beating(engine, since),
    }
