"""Structured logs: one JSON object per line, with ``extra={...}`` fields, no personal data."""

from __future__ import annotations

import json
import logging
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tellusonce.settings import Settings

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure(settings: Settings) -> None:
    """Configure the root logger once per process (tests keep pytest's handlers)."""
    root = logging.getLogger()
    if settings.is_test or getattr(root, "_tellusonce_configured", False):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JSONFormatter())
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    root._tellusonce_configured = True  # type: ignore[attr-defined]  # our mark, so configuring twice changes nothing
