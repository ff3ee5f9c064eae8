"""``tellusonce smtpd`` as a process of its own, for the drills: on an ephemeral port of 127.0.0.1, on the
test's database and calendar, killed and reaped however the test ends."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tellusonce.settings import PROJECT_ROOT
from tests.conftest import TEST_SECRET_KEY
from tests.factories import clock_env


@dataclass
class ListenerProcess:
    process: subprocess.Popen[str]
    port: int


@contextmanager
def listener_process(database_url: str, tmp_path: Path, *args: str,
                     new_session: bool = False) -> Iterator[ListenerProcess]:
    """``tellusonce smtpd`` (``args``: ``--no-processing``, say) once it says where it listens; with
    ``new_session``, in a process group of its own (with its message reader), as a host's service would run."""
    env = dict(os.environ, **clock_env(), TELLUSONCE_MODE="test", TELLUSONCE_SECRET_KEY=TEST_SECRET_KEY,
               TELLUSONCE_DATABASE_URL=database_url, TELLUSONCE_SMTP_LISTEN="127.0.0.1:0",
               TELLUSONCE_MAIL_DOMAIN="tellusonce.test", TELLUSONCE_INSTANCE_PATH=str(tmp_path))
    process = subprocess.Popen([sys.executable, "-m", "tellusonce.cli", "smtpd", *args], env=env,
                               cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                               start_new_session=new_session)
    try:
        assert process.stdout is not None
        ready = process.stdout.readline()  # the listener says where once it listens (or ends, saying nothing)
        found = re.search(r"smtp://127\.0\.0\.1:(\d+)", ready)
        assert found, f"the mail listener did not start: {ready!r}, exit {process.poll()}"
        yield ListenerProcess(process, int(found.group(1)))
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()
