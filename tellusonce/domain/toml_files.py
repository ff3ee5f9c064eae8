"""A TOML configuration file's text parsed (the department registry, the retention schedule) so that
a file that is not TOML is one line naming it. Reading the file is not done here: the domain takes
text (``tellusonce.config_files`` reads it)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any


def parse_toml(text: str, path: Path, error: type[Exception]) -> tuple[dict[str, Any], list[str]]:
    """The document in ``text`` (read from ``path``) and its lines (for line-numbered errors);
    ``error`` saying why not."""
    try:
        return tomllib.loads(text), text.splitlines()
    except tomllib.TOMLDecodeError as e:
        raise error(f"{path}: not valid TOML: {e}") from e
