"""A command of a checkout not set up, or of an install that lost its static folder, refuses in one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tellusonce.settings import PROJECT_ROOT


def test_a_command_started_without_the_page_assets_says_how_to_build_them(tmp_path: Path) -> None:
    code = ("import sys; from tellusonce import resources; from pathlib import Path; "
            "resources.STATIC = Path(sys.argv[1]); from tellusonce.cli import main; main(['db', 'upgrade'])")
    env = dict(os.environ, TELLUSONCE_MODE="test", TELLUSONCE_DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path / "no-assets")], cwd=PROJECT_ROOT, env=env,
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"Error: The page assets govuk-frontend.min.css, govuk-frontend.min.js, app.css, init.js are not in "
        f"{tmp_path / 'no-assets'}: in a checkout, run `make setup`, which builds them; installed, reinstall from "
        f"a wheel built by `make wheel`."]
    assert not (tmp_path / "db.sqlite3").exists()
