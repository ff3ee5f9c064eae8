"""The shipped registry with one thing changed, written where a test can load it."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import REGISTRY


def registry_with(tmp_path: Path, old: str, new: str) -> Path:
    """The shipped registry with the first ``old`` replaced by ``new``, as ``tmp_path/departments.toml``."""
    path = tmp_path / "departments.toml"
    text = REGISTRY.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path
