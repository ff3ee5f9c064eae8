"""A scale-out drill for the web tier: two ``tellusonce serve`` processes, each with its own
instance folder (its own disk), on one PostgreSQL database and one secret, behind what a
round-robin proxy does: every request of a report goes to the other host, one host is killed
mid-journey, and the report is finished on the one left.

On SQLite it is skipped: a SQLite file is one machine's database, so there is no second host.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from account_helpers import PASSWORD, make_citizen
from bs4 import BeautifulSoup
from flask import Flask
from journey_helpers import PROFILE, THREE, count, move_answers

from tellusonce.models import ChangeReport, ReportJourney
from tellusonce.settings import PROJECT_ROOT
from tests.conftest import TEST_SECRET_KEY
from tests.dispatch_helpers import free_port
from tests.factories import clock_env

pytestmark = pytest.mark.slow


class Host:
    """One web host: ``tellusonce serve`` with one worker and an instance folder of its own."""

    def __init__(self, name: str, app: Flask, tmp_path: Path) -> None:
        self.port = free_port()
        self.instance = tmp_path / f"instance-{name}"
        self.log_path = tmp_path / f"{name}.log"
        env = dict(os.environ, **clock_env(), TELLUSONCE_MODE="test", TELLUSONCE_SECRET_KEY=TEST_SECRET_KEY,
                   TELLUSONCE_DATABASE_URL=app.config["DATABASE_URL"], TELLUSONCE_INSTANCE_PATH=str(self.instance),
                   TELLUSONCE_WEB_LISTEN=f"127.0.0.1:{self.port}")
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "tellusonce.cli", "serve", "--workers", "1"],
                                            cwd=PROJECT_ROOT, env=env, stdout=log, stderr=log,
                                            start_new_session=True)
        self.url = f"http://127.0.0.1:{self.port}"

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(self.url + "/healthz", timeout=5)
                return
            except httpx.TransportError:
                assert self.process.poll() is None and time.monotonic() < deadline, self.log_path.read_text()
                time.sleep(0.2)

    def kill(self) -> None:
        """As a host dies: SIGKILL to gunicorn and its worker, no clean shutdown."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)


@pytest.fixture
def hosts(app: Flask, tmp_path: Path) -> Iterator[list[Host]]:
    if app.config["DATABASE_URL"].startswith("sqlite"):
        pytest.skip("SQLite is one machine's database: two hosts need PostgreSQL")
    started = [Host("a", app, tmp_path), Host("b", app, tmp_path)]
    try:
        for host in started:
            host.wait_ready()
        yield started
    finally:
        for host in started:
            host.kill()


class Browser:
    """One citizen's browser behind the proxy: one cookie jar, each request to the host it is given."""

    def __init__(self) -> None:
        self.http = httpx.Client(follow_redirects=False, timeout=30)

    def form(self, host: Host, path: str) -> dict[str, Any]:
        """The form on ``path`` as a browser would send it back, CSRF token included."""
        response = self.http.get(host.url + path)
        assert response.status_code == 200, f"GET {path} on {host.url}: {response.status_code}"
        page = BeautifulSoup(response.text, "html.parser")
        values: dict[str, Any] = {}
        for field in page.select("main input"):
            name, kind = field.get("name"), field.get("type", "text")
            if not name or kind in ("submit", "button"):
                continue
            if kind in ("radio", "checkbox") and not field.has_attr("checked"):
                continue
            values.setdefault(name, []).append(field.get("value", ""))
        return {k: v if len(v) > 1 else v[0] for k, v in values.items()}

    def post(self, host: Host, path: str, answers: dict[str, Any], *, form_page: str | None = None) -> httpx.Response:
        data = {**self.form(host, form_page or path), **answers}
        return self.http.post(host.url + path, data=data)


def test_a_report_goes_on_across_hosts_and_survives_one_dying(app: Flask, hosts: list[Host]) -> None:
    a, b = hosts
    citizen = make_citizen(app, "scale-out@example.org", **PROFILE)
    browser = Browser()
    turn = iter([a, b] * 20)
    assert browser.post(next(turn), "/account/sign-in",
                        {"email": citizen.email, "password": PASSWORD}).status_code == 302
    started = browser.post(next(turn), "/report/change", {"change_type": "address"})
    assert started.status_code == 302 and started.headers["location"].startswith("/report/questions/")
    pages = list(move_answers().items())
    for slug, answers in pages[:3]:
        response = browser.post(next(turn), f"/report/questions/{slug}", answers)
        assert response.status_code == 302 and "/report/change" not in response.headers["location"], slug
    a.kill()  # host a dies mid-journey; the proxy sends everything to b from now on
    for slug, answers in pages[3:]:
        response = browser.post(b, f"/report/questions/{slug}", answers)
        assert response.status_code == 302 and "/report/change" not in response.headers["location"], slug
    chosen = browser.post(b, "/report/organisations",
                          {"recipients": list(THREE), **{f"consent-{d}": "once" for d in THREE}})
    assert chosen.status_code == 302 and chosen.headers["location"] == "/report/check"
    sent = browser.post(b, "/report/check", {})
    assert sent.status_code == 303 and sent.headers["location"].startswith("/report/confirmation/")
    assert browser.http.get(b.url + sent.headers["location"]).status_code == 200
    assert count(app, ChangeReport) == 1 and count(app, ReportJourney) == 0
    # Neither host wrote anything of the citizen's answers to its disk.
    assert [p for host in hosts if host.instance.exists() for p in host.instance.rglob("*") if p.is_file()] == []
