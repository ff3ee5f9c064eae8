"""Reading a TOML configuration file (the department registry, the retention schedule) so that
every mistake is one line naming the file: a file that cannot be read, or is not TOML."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any


def read_toml(path: Path, what: str, error: type[Exception]) -> tuple[dict[str, Any], list[str]]:
    """The document in ``path`` and its lines (for line-numbered errors); ``error`` saying why not,
    ``what`` naming the file for a person ("the department registry")."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise error(f"{path}: cannot read {what} ({e.strerror}).") from e
    try:
        return tomllib.loads(text), text.splitlines()
    except tomllib.TOMLDecodeError as e:
        raise error(f"{path}: not valid TOML: {e}") from e
