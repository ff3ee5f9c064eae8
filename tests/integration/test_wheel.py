"""The wheel `make wheel` builds, installed into a fresh virtualenv outside the checkout: it holds everything
the service reads at run time under the project's own names, migrates a database and serves a page, in
English and in Welsh, styled by its own GOV.UK Frontend assets.

About half a minute (a wheel build, a virtualenv, a migration and a gunicorn start). The installed service's
dependencies are the project's own virtualenv's, read through a ``.pth`` file, so that nothing is downloaded;
the project itself is not found there: its editable install is a ``.pth`` import hook, and a folder a ``.pth``
file names has its own ``.pth`` files ignored."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest

from tellusonce.migrate import head_revision
from tellusonce.settings import PROJECT_ROOT
from tests.dispatch_helpers import free_port

pytestmark = pytest.mark.slow

# What the service reads at run time, as the wheel must hold it.
SHIPPED = [
    "tellusonce/templates/base.html",
    "tellusonce/templates/email/report_submitted.txt",
    "tellusonce/static/govuk-frontend.min.css",
    "tellusonce/static/govuk-frontend.min.js",
    "tellusonce/static/app.css",
    "tellusonce/static/init.js",
    "tellusonce/config/departments.toml",
    "tellusonce/config/departments.production.example.toml",
    "tellusonce/config/gunicorn.conf.py",
    "tellusonce/migrations/env.py",
    "tellusonce/migrations/versions/0001_initial.py",
    "tellusonce/translations/cy/LC_MESSAGES/messages.mo",
    "tellusonce_services/registry.py",
    "tellusonce_mail/server.py",
]


def _build_wheel(dist: Path) -> Path:
    built = subprocess.run(["make", "--no-print-directory", "wheel", f"DIST={dist}"], cwd=PROJECT_ROOT,
                           capture_output=True, text=True)
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = dist.glob("tellusonce-*.whl")
    return wheel


def _install(wheel: Path, venv: Path) -> Path:
    """A virtualenv with the wheel installed and the project's virtualenv's packages beside it; its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(subprocess.check_output([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                                        text=True).strip())
    (site / "tellusonce-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
                    "--no-index", str(wheel)], check=True)
    return python


def _get(url: str, deadline: float, **headers: str) -> tuple[int, str, bytes]:
    """Status, content type and body of ``url``; a refused connection is tried again until ``deadline``."""
    while True:
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as response:
                return response.status, response.headers.get_content_type(), response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers.get_content_type(), error.read()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_a_wheel_installed_outside_the_checkout_migrates_and_serves_styled_pages(tmp_path: Path) -> None:
    wheel = _build_wheel(tmp_path / "dist")
    inside = set(zipfile.ZipFile(wheel).namelist())
    assert [name for name in SHIPPED if name not in inside] == []
    assert sorted({name.split("/")[0] for name in inside if not name.startswith("tellusonce-")}) == [
        "tellusonce", "tellusonce_mail", "tellusonce_services"]  # nothing called services or mail

    python = _install(wheel, tmp_path / "venv")
    elsewhere = tmp_path / "host"
    elsewhere.mkdir()
    port = free_port()
    env = {"PATH": os.environ["PATH"], "HOME": str(elsewhere), "TELLUSONCE_MODE": "demo",
           "TELLUSONCE_INSTANCE_PATH": str(elsewhere / "instance"),
           "TELLUSONCE_DATABASE_URL": f"sqlite:///{elsewhere / 'tellusonce.sqlite3'}",
           "TELLUSONCE_WEB_LISTEN": f"127.0.0.1:{port}"}
    where = subprocess.run([str(python), "-c", "import tellusonce, tellusonce_services, tellusonce_mail as m; "
                            "print(tellusonce.__file__, tellusonce_services.__file__, m.__file__)"],
                           cwd=elsewhere, env=env, capture_output=True, text=True, check=True)
    assert all(Path(f).is_relative_to(tmp_path / "venv") for f in where.stdout.split()), where.stdout
    for generic in ("services", "mail"):
        assert subprocess.run([str(python), "-c", f"import {generic}"], cwd=elsewhere, env=env,
                              capture_output=True).returncode == 1

    command = tmp_path / "venv" / "bin" / "tellusonce"
    upgraded = subprocess.run([str(command), "db", "upgrade"], cwd=elsewhere, env=env, capture_output=True, text=True)
    assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
    with sqlite3.connect(elsewhere / "tellusonce.sqlite3") as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchall() == [(head_revision(),)]
    synced = subprocess.run([str(command), "departments", "sync"], cwd=elsewhere, env=env, capture_output=True,
                            text=True)
    assert synced.returncode == 0 and "tellusonce/config/departments.toml" in synced.stdout, synced.stderr

    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen([str(command), "serve", "--workers", "1"], cwd=elsewhere, env=env,
                                  stdout=log, stderr=log)
    try:
        base = f"http://127.0.0.1:{port}"
        status, kind, page = _get(f"{base}/", time.monotonic() + 60)
        assert (status, kind) == (200, "text/html"), log_path.read_text()
        assert b"/assets/govuk-frontend.min.css" in page
        status, kind, css = _get(f"{base}/assets/govuk-frontend.min.css", time.monotonic() + 5)
        assert (status, kind) == (200, "text/css")
        assert css == (PROJECT_ROOT / "static" / "govuk-frontend.min.css").read_bytes()
        status, _, welsh = _get(f"{base}/", time.monotonic() + 5, **{"Accept-Language": "cy"})
        assert status == 200 and "Dweud Wrthym Unwaith" in welsh.decode()
    finally:
        server.send_signal(signal.SIGTERM)
        returncode = server.wait(timeout=30)
    assert returncode == 0, log_path.read_text()

