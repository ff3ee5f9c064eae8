"""The web app and the demo receiver under gunicorn, started as an operator starts them
(``tellusonce serve``, ``tellusonce receiver``): they answer with the workers asked for, open no
control socket in the user's home or runtime folder, and stop cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from flask import Flask

from tellusonce.settings import PROJECT_ROOT
from tests.conftest import TEST_SECRET_KEY
from tests.dispatch_helpers import free_port, living_children
from tests.factories import clock_env

pytestmark = pytest.mark.slow


def _answers(url: str, deadline: float) -> int:
    """The status of the first answer from ``url`` before ``deadline`` (a refused connection is retried)."""
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.mark.parametrize(("command", "listen", "path", "workers"), [
    (["serve"], "TELLUSONCE_WEB_LISTEN", "/healthz", 3),  # TELLUSONCE_WEB_WORKERS=3, through config/gunicorn.conf.py
    (["serve", "--workers", "1"], "TELLUSONCE_WEB_LISTEN", "/healthz", 1),  # the option wins over the environment
    (["receiver"], "TELLUSONCE_RECEIVER_LISTEN", "/", 1),
], ids=["serve", "serve-workers-option", "receiver"])
def test_runs_under_gunicorn_with_its_workers_and_no_control_socket(app: Flask, tmp_path: Path, command: list[str],
                                                                    listen: str, path: str, workers: int) -> None:
    port = free_port()
    home, runtime = tmp_path / "home", tmp_path / "runtime"
    home.mkdir()
    runtime.mkdir(mode=0o700)
    env = dict(os.environ, **clock_env(), TELLUSONCE_MODE="test", TELLUSONCE_SECRET_KEY=TEST_SECRET_KEY,
               TELLUSONCE_DATABASE_URL=app.config["DATABASE_URL"], TELLUSONCE_INSTANCE_PATH=str(tmp_path / "instance"),
               **{listen: f"127.0.0.1:{port}"}, TELLUSONCE_WEB_WORKERS="3", HOME=str(home), XDG_RUNTIME_DIR=str(runtime))
    log_path = tmp_path / "gunicorn.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "tellusonce.cli", *command], cwd=PROJECT_ROOT, env=env,
                                   stdout=log, stderr=log)
    try:
        assert _answers(f"http://127.0.0.1:{port}{path}", time.monotonic() + 60) == 200, log_path.read_text()
        deadline = time.monotonic() + 20  # the others may still be booting
        while len(living_children(process.pid)) < workers and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)  # and no more than asked for follow
        assert len(living_children(process.pid)) == workers, log_path.read_text()
        assert [p for p in (*home.rglob("*"), *runtime.rglob("*")) if p.is_socket()] == []
        assert "control socket" not in log_path.read_text().lower()
    finally:
        process.send_signal(signal.SIGTERM)
        returncode = process.wait(timeout=30)
    assert returncode == 0, log_path.read_text()
