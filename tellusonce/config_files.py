"""Reading the configuration files the service starts from: the department registry
(``config/departments.toml``) and the retention schedule (``config/retention.toml``).

The rules of each file are pure functions over its text (``tellusonce.domain.retention``,
``tellusonce_services.registry``); here the file is read, so that one that cannot be read is one
line naming it, as a mistake inside it is.
"""

from __future__ import annotations

from pathlib import Path

from tellusonce.domain.retention import RetentionError, Schedule, parse_schedule


def read_config(path: Path, what: str, error: type[Exception]) -> str:
    """The text of ``path``; ``error`` saying why not, ``what`` naming the file for a person
    ("the department registry")."""
    try:
        return path.read_text(encoding="utf-8")
    except OSError as e:
        raise error(f"{path}: cannot read {what} ({e.strerror}).") from e
    except UnicodeDecodeError as e:
        raise error(f"{path}: {what} is not UTF-8 text ({e.reason} at byte {e.start}).") from e


def load_schedule(path: Path) -> Schedule:
    """Read and check the retention schedule in ``path``."""
    return parse_schedule(read_config(path, "the retention schedule", RetentionError), path)
