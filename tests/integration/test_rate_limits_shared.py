"""Rate limits hold across every web process and count each real client on its own.

Two ``tellusonce serve`` processes counting in one Redis refuse together what one would refuse;
behind a trusted proxy each client has its own bucket; an ``X-Forwarded-For`` from a peer that is
not a trusted proxy is ignored, so nobody picks their own bucket. The tests that need Redis (on
127.0.0.1:6379, as on these machines and in CI) skip, saying so, when it does not answer; each
keeps its keys under a prefix of its own in database ``REDIS_DB`` and deletes them afterwards.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from bs4 import BeautifulSoup
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine

from tellusonce import create_app
from tellusonce.settings import PROJECT_ROOT, Settings
from tests.account_helpers import post_form
from tests.conftest import TEST_SECRET_KEY
from tests.dispatch_helpers import free_port
from tests.factories import clock_env

REDIS_HOST, REDIS_PORT, REDIS_DB = "127.0.0.1", 6379, 11


@pytest.fixture
def redis_store() -> Iterator[tuple[str, str]]:
    """``(TELLUSONCE_RATELIMIT_STORAGE_URL, a key prefix of this test's own)``; skips without Redis."""
    import redis

    connection = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=REDIS_DB, socket_connect_timeout=2)
    try:
        connection.ping()
    except redis.RedisError as e:
        pytest.skip(f"no Redis answers on {REDIS_HOST}:{REDIS_PORT} ({e}): the shared rate-limit store is not tested")
    prefix = f"tellusonce-test-{uuid.uuid4().hex}"
    try:
        yield f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}", prefix
    finally:
        for key in connection.scan_iter(match=f"*{prefix}*"):
            connection.delete(key)
        connection.close()


# -- two processes, one count ------------------------------------------------------------


def _start_web(tmp_path: Path, name: str, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str, Path]:
    port = free_port()
    log_path = tmp_path / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "tellusonce.cli", "serve", "--workers", "1"], cwd=PROJECT_ROOT,
            env={**env, "TELLUSONCE_WEB_LISTEN": f"127.0.0.1:{port}",
                 "TELLUSONCE_INSTANCE_PATH": str(tmp_path / name)},
            stdout=log, stderr=log)
    return process, f"http://127.0.0.1:{port}", log_path


def _wait_for(base: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, log_path.read_text()
        try:
            if httpx.get(f"{base}/healthz", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, log_path.read_text()
        time.sleep(0.2)


def _wrong_password(http: httpx.Client, base: str, email: str) -> int:
    """POST a wrong password for ``email`` to the sign-in form of the process at ``base``."""
    page = BeautifulSoup(http.get(f"{base}/account/sign-in").text, "html.parser")
    field = page.find("input", attrs={"name": "csrf_token"})
    assert field is not None
    return http.post(f"{base}/account/sign-in", data={
        "csrf_token": str(field["value"]), "email": email, "password": "not the password at all",
    }).status_code


@pytest.mark.slow
def test_two_web_processes_sharing_redis_refuse_together_what_one_would(
        app: Flask, tmp_path: Path, redis_store: tuple[str, str]) -> None:
    storage_url, prefix = redis_store
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TELLUSONCE_")}
    env = {**clean, **clock_env(), "TELLUSONCE_MODE": "test", "TELLUSONCE_SECRET_KEY": TEST_SECRET_KEY,
           "TELLUSONCE_DATABASE_URL": app.config["DATABASE_URL"],
           "TELLUSONCE_RATELIMIT_STORAGE_URL": storage_url, "TELLUSONCE_RATELIMIT_KEY_PREFIX": prefix,
           "TELLUSONCE_ACCOUNT_RATE_LIMIT": "1000 per minute",
           "TELLUSONCE_ACCOUNT_RATE_LIMIT_PER_ADDRESS": "4 per 15 minutes"}
    webs = [_start_web(tmp_path, name, env) for name in ("host-a", "host-b")]
    try:
        for process, base, log_path in webs:
            _wait_for(base, process, log_path)
        with httpx.Client(timeout=30) as http:  # one browser, its requests alternating between the hosts
            statuses = [_wrong_password(http, webs[i % 2][1], "ada@example.com") for i in range(8)]
    finally:
        for process, _, _ in webs:
            process.send_signal(signal.SIGTERM)
        for process, _, _ in webs:
            process.wait(timeout=30)
    # Four tries in 15 minutes for one address, counted once for both hosts: then every host refuses.
    assert 429 not in statuses[:4] and statuses[4:] == [429] * 4, statuses
    # The shared store holds counters, not the address that was tried.
    import redis

    with redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=REDIS_DB) as connection:
        keys = [key.decode() for key in connection.scan_iter(match=f"*{prefix}*")]
    assert keys and not [key for key in keys if "ada" in key or "example.com" in key], keys


# -- each client behind the proxies on its own ----------------------------------------------


PROXY = "10.0.0.7"


@pytest.fixture
def limited(settings: Settings, engine: Engine,
            database_cleaner: Callable[[Engine], None]) -> Iterator[Callable[..., Flask]]:
    """An app whose account forms take 3 posts a minute from one client, behind the proxy at ``PROXY``."""
    made: list[Flask] = []

    def make(**changes: object) -> Flask:
        app = create_app(dataclasses.replace(settings, forwarded_allow_ips=PROXY, account_rate_limit="3 per minute",
                                             account_rate_limit_per_address="1000 per minute", **changes))
        made.append(app)
        return app

    yield make
    for app in made:
        app.extensions["tellusonce.engine"].dispose()
    database_cleaner(engine)


def _client(app: Flask, peer: str, forwarded_for: str | None = None) -> FlaskClient:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = peer
    if forwarded_for is not None:
        client.environ_base["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return client


def _create_account(client: FlaskClient, n: int) -> int:
    return post_form(client, "/account/create", {"email": f"person{n}@example.com", "password": "x"}).status_code


def test_two_clients_behind_one_trusted_proxy_have_a_bucket_each(limited: Callable[..., Flask]) -> None:
    app = limited()
    first, second = _client(app, PROXY, "203.0.113.5"), _client(app, PROXY, "203.0.113.6")
    assert [_create_account(first, n) for n in range(3)].count(429) == 0
    assert _create_account(first, 3) == 429
    # The other citizen behind the same load balancer is not refused for the first one's posts.
    assert [_create_account(second, n) for n in range(10, 13)].count(429) == 0
    assert _create_account(second, 13) == 429


def test_an_address_the_client_adds_before_the_proxys_own_is_not_believed(limited: Callable[..., Flask]) -> None:
    app = limited()
    statuses = []
    for n in range(4):  # the client writes a new address each time; the proxy appends the one it saw
        client = _client(app, PROXY, f"198.51.100.{n}, 203.0.113.5")
        statuses.append(_create_account(client, n))
    assert statuses[:3].count(429) == 0 and statuses[3] == 429, statuses


def test_a_forged_forwarded_for_from_a_peer_that_is_no_trusted_proxy_is_ignored(
        limited: Callable[..., Flask]) -> None:
    app = limited()
    statuses = [_create_account(_client(app, "192.0.2.50", f"203.0.113.{n}"), n) for n in range(4)]
    assert statuses[:3].count(429) == 0 and statuses[3] == 429, statuses
    # The proxy's own clients are counted apart from that peer.
    assert _create_account(_client(app, PROXY, "203.0.113.9"), 9) != 429


def test_with_two_hops_the_address_the_outer_proxy_saw_is_the_client(limited: Callable[..., Flask]) -> None:
    app = limited(proxy_hops=2)  # a CDN, then the load balancer at PROXY
    statuses = [_create_account(_client(app, PROXY, f"198.51.100.{n}, 203.0.113.5, 10.1.1.1"), n) for n in range(4)]
    assert statuses[:3].count(429) == 0 and statuses[3] == 429, statuses
    assert _create_account(_client(app, PROXY, "203.0.113.6, 10.1.1.1"), 9) != 429
