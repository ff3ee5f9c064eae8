"""Browser tests: the real app under a real WSGI server, driven by Debian's Chromium.

Fixtures
- ``live_server``: the app served by Werkzeug's threaded WSGI server on an
  ephemeral 127.0.0.1 port; ``.url``, ``.app``, ``.engine``. One per test
  session; rows a test commits are deleted after it.
- ``browser``: Chromium through Playwright, launched once per session; the
  test is skipped, saying why, when there is no Chromium or no Playwright.
- ``page``: a fresh browser context (no cookies) and page at 1280 × 900.

Helpers (import from ``browser_checks``): ``check_accessible(page)`` runs
axe-core's WCAG 2.2 AA rules at 1280 px and 375 px and checks there is no
horizontal scrolling; ``screenshot(page, name)`` saves docs/screenshots/<name>.png.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Engine
from werkzeug.serving import BaseWSGIServer, make_server

from tellusonce import create_app
from tellusonce.settings import PROJECT_ROOT, Settings

REGISTRY = PROJECT_ROOT / "config" / "departments.toml"
SECRET_KEY = "browser-test-secret-key-long-enough-for-any-mode"
CHROMIUM = os.environ.get("TELLUSONCE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


@dataclass
class LiveServer:
    url: str
    app: Flask
    engine: Engine
    server: BaseWSGIServer
    clean: Callable[[Engine], None]

    def path(self, path: str) -> str:
        return self.url + path


@pytest.fixture(scope="session")
def _live_server(
    database_url: str, engine: Engine, database_cleaner: Callable[[Engine], None], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    # Bind first (port 0: the system picks a free port), then tell the app its own address
    # so that links in the email it writes point back at this server.
    holder: dict[str, Flask] = {}

    def wsgi(environ: dict[str, Any], start_response: Any) -> Any:
        return holder["app"](environ, start_response)

    server = make_server("127.0.0.1", 0, wsgi, threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    settings = Settings(
        mode="test", secret_key=SECRET_KEY, database_url=database_url,
        instance_path=tmp_path_factory.mktemp("live-instance"), mail_domain="tellusonce.test",
        outbound_mail="capture", departments=REGISTRY, public_url=url, web_listen=url.removeprefix("http://"),
    )
    app = create_app(settings)
    holder["app"] = app
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(url=url, app=app, engine=engine, server=server, clean=database_cleaner)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        app.extensions["tellusonce.engine"].dispose()


@pytest.fixture
def live_server(_live_server: LiveServer) -> Iterator[LiveServer]:
    yield _live_server
    _live_server.clean(_live_server.engine)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.skip(f"no Chromium at {CHROMIUM}: install Debian's (apt-get install -y chromium) to run browser tests")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("Playwright for Python is not installed: pip install -e '.[dev]'")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Any, live_server: LiveServer) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=live_server.url)
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()
