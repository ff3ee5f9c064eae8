"""How migrations are numbered (docs/operations.md, "Schema migrations")."""

from __future__ import annotations

import re
from pathlib import Path

from alembic.script import ScriptDirectory

from tellusonce.migrate import alembic_config


def test_each_migration_is_numbered_after_the_one_before_and_its_file_named_for_its_number():
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    revisions = list(script.walk_revisions())
    assert revisions
    for revision in revisions:
        assert re.fullmatch(r"\d{4}", revision.revision), f"{revision.path}: id {revision.revision!r} is not a number"
        assert re.fullmatch(rf"{revision.revision}_[a-z0-9_]+\.py", Path(revision.path).name), revision.path
        before = None if revision.revision == "0001" else f"{int(revision.revision) - 1:04d}"
        assert revision.down_revision == before, f"{revision.path} follows {revision.down_revision!r}, not {before!r}"
