"""`tellusonce` run as a newcomer runs it: without settings, or with a wrong one, it says in one line
what to set, never with a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tellusonce.settings import PROJECT_ROOT

TELLUSONCE = Path(sys.executable).with_name("tellusonce")  # the console script, as an operator runs it


def tellusonce(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """The command in a clean environment: no TELLUSONCE_ variable but those given."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TELLUSONCE_", "FLASK_"))}
    return subprocess.run([str(TELLUSONCE), *args], cwd=cwd, env={**clean, **env},
                          capture_output=True, text=True, timeout=60, check=False)


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def test_help_without_any_setting_lists_the_commands_and_says_in_one_line_what_to_set(tmp_path):
    result = tellusonce("--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    [problem] = lines(result.stderr)
    assert "TELLUSONCE_SECRET_KEY" in problem and "TELLUSONCE_MODE=demo" in problem
    for command in ("db", "demo", "dead-letters", "departments", "dispatch", "serve", "smtpd"):
        assert f"  {command} " in result.stdout


def test_a_command_without_settings_refuses_in_one_line_naming_every_setting_production_lacks(tmp_path):
    result = tellusonce("db", "upgrade", cwd=tmp_path)
    assert result.returncode in (1, 2)
    assert "Traceback" not in result.stderr
    [problem] = lines(result.stderr)
    for variable in ("TELLUSONCE_SECRET_KEY", "TELLUSONCE_OUTBOUND_MAIL", "TELLUSONCE_PRIVACY_CONTACT",
                     "TELLUSONCE_MODE=demo"):
        assert variable in problem
    assert not (tmp_path / "instance").exists()


@pytest.mark.parametrize(("setting", "value", "named"), [
    ("TELLUSONCE_MODE", "staging", "TELLUSONCE_MODE must be one of production, demo, test"),
    ("TELLUSONCE_SMTP_IDLE_TIMEOUT", "soon", "TELLUSONCE_SMTP_IDLE_TIMEOUT must be a whole number"),
    ("TELLUSONCE_DATABASE_URL", "nonsense", "TELLUSONCE_DATABASE_URL"),
    ("TELLUSONCE_DATABASE_URL", "mysql://db.example/tellusonce", "TELLUSONCE_DATABASE_URL"),
    ("TELLUSONCE_INSTANCE_PATH", "/proc/no-such-folder", "TELLUSONCE_INSTANCE_PATH"),
    ("TELLUSONCE_PRIVACY_CONTACT", "nobody", "TELLUSONCE_PRIVACY_CONTACT"),
], ids=["mode", "whole-number", "unparsable-database", "unsupported-database", "instance-folder", "privacy"])
def test_a_wrong_setting_is_named_in_one_line(tmp_path, setting, value, named):
    env = {"TELLUSONCE_MODE": "demo", "TELLUSONCE_INSTANCE_PATH": str(tmp_path / "instance"), setting: value}
    for args in (("db", "upgrade"), ("--help",)):
        result = tellusonce(*args, cwd=tmp_path, **env)
        assert "Traceback" not in result.stderr, result.stderr
        [problem] = lines(result.stderr)
        assert named in problem
        assert result.returncode == (0 if args == ("--help",) else 2)


def test_every_readme_command_shows_its_help_without_settings(tmp_path):
    readme = (PROJECT_ROOT / "README.md").read_text()
    for command in (["db", "upgrade"], ["departments", "sync"], ["dead-letters", "replay"], ["mail", "list"],
                    ["audit", "verify"], ["dispatch"], ["serve"], ["demo"], ["receiver"]):
        assert f"tellusonce {' '.join(command)}" in readme
        result = tellusonce(*command, "--help", cwd=tmp_path)
        assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
        assert result.stdout.startswith(f"Usage: tellusonce {' '.join(command)}")
