"""`tellusonce demo` says it is running only once every part answers: a request made the moment it
says so is served, not refused."""

from __future__ import annotations

import os
import queue
import signal
import smtplib
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from tellusonce.settings import PROJECT_ROOT
from tests.dispatch_helpers import free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]  # five processes starting on a busy machine

RUNNING = "Tell us once is running"


def test_demo_says_it_is_running_only_when_web_receiver_mail_and_dispatcher_answer(tmp_path: Path) -> None:
    web, smtp, receiver = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TELLUSONCE_")}
    env.update(TELLUSONCE_MODE="demo", TELLUSONCE_INSTANCE_PATH=str(tmp_path / "instance"),
               TELLUSONCE_DATABASE_URL=f"sqlite:///{tmp_path / 'demo.sqlite3'}", TELLUSONCE_WEB_WORKERS="1",
               TELLUSONCE_WEB_LISTEN=f"127.0.0.1:{web}", TELLUSONCE_SMTP_LISTEN=f"127.0.0.1:{smtp}",
               TELLUSONCE_RECEIVER_LISTEN=f"127.0.0.1:{receiver}", PYTHONUNBUFFERED="1")
    log = (tmp_path / "demo.log").open("wb")
    demo = subprocess.Popen([sys.executable, "-m", "tellusonce.cli", "demo"], cwd=PROJECT_ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=log, text=True, start_new_session=True)
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in demo.stdout], daemon=True)  # type: ignore[union-attr]
    reader.start()
    try:
        said: list[str] = []
        deadline = time.monotonic() + 240  # the demo itself gives up after 180 s
        while not any(RUNNING in line for line in said):
            assert demo.poll() is None, "".join(said) + (tmp_path / "demo.log").read_text()
            try:
                said.append(lines.get(timeout=max(deadline - time.monotonic(), 0.1)))
            except queue.Empty:
                pytest.fail("the demo never said it was running:\n" + "".join(said))
        # At once, with no retry: each part must already answer.
        with urllib.request.urlopen(f"http://127.0.0.1:{web}/healthz", timeout=10) as response:
            assert response.status == 200
            assert b'"state":"ok"' in response.read().replace(b" ", b"")  # the dispatcher is beating
        with urllib.request.urlopen(f"http://127.0.0.1:{receiver}/", timeout=10) as response:
            assert response.status == 200
        with smtplib.SMTP("127.0.0.1", smtp, timeout=10) as client:
            assert client.ehlo()[0] == 250
    finally:
        demo.send_signal(signal.SIGTERM)
        try:
            returncode = demo.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(demo.pid, signal.SIGKILL)
            raise
        finally:
            log.close()
            reader.join(timeout=30)  # the demo's output ends when it and every part it started have exited
            demo.stdout.close()  # type: ignore[union-attr]
    assert returncode == 0, (tmp_path / "demo.log").read_text()
