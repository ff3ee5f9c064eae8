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
                     "TELLUSONCE_DATABASE_URL", "TELLUSONCE_PUBLIC_URL", "TELLUSONCE_RATELIMIT_STORAGE_URL",
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
    ("TELLUSONCE_RATELIMIT_STORAGE_URL", "memcached://cache:11211", "TELLUSONCE_RATELIMIT_STORAGE_URL must be redis://"),
    ("TELLUSONCE_FORWARDED_ALLOW_IPS", "127.0.0.1,the proxy", "TELLUSONCE_FORWARDED_ALLOW_IPS must list"),
    ("TELLUSONCE_PROXY_HOPS", "0", "TELLUSONCE_PROXY_HOPS must be"),
    ("TELLUSONCE_OUTBOUND_MAIL", "smtp://relay.example?tls=on", "TELLUSONCE_OUTBOUND_MAIL has the option 'tls'"),
], ids=["mode", "whole-number", "unparsable-database", "unsupported-database", "instance-folder", "privacy",
        "rate-limit-store", "proxies", "proxy-hops", "outbound-mail-option"])
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


# -- production refuses what only works on one machine -------------------------------------

PRODUCTION_REGISTRY = PROJECT_ROOT / "config" / "departments.production.example.toml"


def production(tmp_path: Path, **changes: str | None) -> dict[str, str]:
    """A production environment that can start, with ``changes`` (``None`` unsets a variable)."""
    env = {
        "TELLUSONCE_SECRET_KEY": "p" * 48,
        "TELLUSONCE_OUTBOUND_MAIL": "smtp://127.0.0.1:2525?starttls=required",
        "TELLUSONCE_PRIVACY_CONTACT": "dpo@council.example",
        "TELLUSONCE_DATABASE_URL": f"sqlite:///{tmp_path / 'tellusonce.sqlite3'}",
        "TELLUSONCE_PUBLIC_URL": "https://tellusonce.example",
        "TELLUSONCE_RATELIMIT_STORAGE_URL": "redis://127.0.0.1:6379/11",
        "TELLUSONCE_DEPARTMENTS": str(PRODUCTION_REGISTRY),
        "TELLUSONCE_INSTANCE_PATH": str(tmp_path / "instance"),
    }
    for name, value in changes.items():
        if value is None:
            env.pop(f"TELLUSONCE_{name}", None)
        else:
            env[f"TELLUSONCE_{name}"] = value
    return env


def test_production_with_every_setting_starts_and_loads_the_production_example_registry(tmp_path):
    env = production(tmp_path)
    result = tellusonce("--help", cwd=tmp_path, **env)
    assert result.returncode == 0 and lines(result.stderr) == [], result.stderr
    for command in (("db", "upgrade"), ("departments", "sync")):
        result = tellusonce(*command, cwd=tmp_path, **env)
        assert result.returncode == 0, result.stderr
    assert "departments in" in result.stdout and str(PRODUCTION_REGISTRY) in result.stdout
    assert not (tmp_path / "instance").exists()  # nothing of a production host lives on its disk


# Each refusal at the start of one of the long-running commands; every command meets every
# refusal the same way, as each is read before any command runs (the registry's is run on all four below).
@pytest.mark.parametrize(("changes", "command", "says"), [
    ({"DATABASE_URL": None}, ("serve",), "TELLUSONCE_DATABASE_URL is not set"),
    ({"PUBLIC_URL": None}, ("dispatch",), "TELLUSONCE_PUBLIC_URL is not set"),
    ({"PUBLIC_URL": "http://tellusonce.example"}, ("smtpd",), "TELLUSONCE_PUBLIC_URL is 'http://tellusonce.example'"),
    ({"RATELIMIT_STORAGE_URL": None}, ("mail", "send"), "TELLUSONCE_RATELIMIT_STORAGE_URL is memory://"),
    ({"RATELIMIT_STORAGE_URL": "memory://", "WEB_PROCESSES": "2"}, ("serve",),
     "TELLUSONCE_RATELIMIT_STORAGE_URL is memory://"),
    ({"PRIVACY_CONTACT": None}, ("dispatch",), "TELLUSONCE_PRIVACY_CONTACT is not set"),
    ({"DEPARTMENTS": str(PROJECT_ROOT / "config" / "no-such-registry.toml")},
     ("smtpd",), "TELLUSONCE_DEPARTMENTS: "),
    ({"OUTBOUND_MAIL": "smtp://127.0.0.1:2525"}, ("mail", "send"),
     "TELLUSONCE_OUTBOUND_MAIL is smtp://127.0.0.1:2525, which sends email in clear"),
    ({"OUTBOUND_MAIL": "smtp://127.0.0.1:2525"}, ("dispatch",), "smtp://127.0.0.1:587?starttls=required"),
], ids=["no-database", "no-public-url", "http-public-url", "memory-rate-limits", "memory-with-two-processes",
        "no-privacy-contact", "unreadable-registry", "mail-in-clear", "mail-in-clear-dispatch"])
def test_production_refuses_a_setting_that_only_works_on_one_machine_in_one_line(tmp_path, changes, command, says):
    result = tellusonce(*command, cwd=tmp_path, **production(tmp_path, **changes))
    assert "Traceback" not in result.stderr, result.stderr
    [problem] = lines(result.stderr)
    assert says in problem and result.returncode == 2, result.stderr
    assert not (tmp_path / "tellusonce.sqlite3").exists() and not (tmp_path / "instance").exists()


@pytest.mark.parametrize("command", [("serve",), ("dispatch",), ("smtpd",), ("mail", "send")])
def test_production_refuses_the_demo_registry_at_the_start_of_every_command(tmp_path, command):
    result = tellusonce(*command, cwd=tmp_path, **production(tmp_path, DEPARTMENTS=None))  # the default: the demo's
    assert "Traceback" not in result.stderr, result.stderr
    [problem] = lines(result.stderr)
    assert result.returncode == 2
    assert "TELLUSONCE_DEPARTMENTS" in problem and "dvla, hmrc, dwp, hmpo" in problem and "https://" in problem
    assert "departments.production.example.toml" in problem


def test_memory_rate_limits_start_only_when_the_operator_says_one_web_process_runs(tmp_path):
    env = production(tmp_path, RATELIMIT_STORAGE_URL="memory://", WEB_PROCESSES="1")
    result = tellusonce("--help", cwd=tmp_path, **env)
    assert result.returncode == 0 and lines(result.stderr) == [], result.stderr
    for args, extra in ((("serve", "--workers", "3"), {}), (("serve",), {"TELLUSONCE_WEB_WORKERS": "2"})):
        result = tellusonce(*args, cwd=tmp_path, **env, **extra)
        assert "Traceback" not in result.stderr, result.stderr
        [problem] = lines(result.stderr)
        assert result.returncode == 1 and "TELLUSONCE_WEB_PROCESSES=1" in problem, result.stderr
