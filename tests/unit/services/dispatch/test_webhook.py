"""The webhook sender's rules: answers classified, Retry-After read, private addresses refused."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from tellusonce.settings import Settings
from tellusonce_services.dispatch.webhook import (
    Outcome,
    WebhookSender,
    classify,
    is_public_address,
    parse_retry_after,
    url_problem,
)

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
TEST = Settings(mode="test", secret_key="k" * 40)


def test_retry_after_is_read_as_seconds_or_an_http_date_and_capped():
    assert parse_retry_after("120") == 120
    assert parse_retry_after("Sun, 22 Nov 2026 12:02:00 GMT", now=NOW) == 120
    assert parse_retry_after("999999999") == 24 * 3600
    assert parse_retry_after("soon") is None


@pytest.mark.parametrize("status, outcome", [
    (200, Outcome.DELIVERED), (204, Outcome.DELIVERED), (302, Outcome.RETRY), (400, Outcome.PERMANENT),
    (401, Outcome.PERMANENT), (404, Outcome.PERMANENT), (408, Outcome.RETRY), (410, Outcome.GONE),
    (429, Outcome.RETRY), (500, Outcome.RETRY), (503, Outcome.RETRY),
])
def test_answers_are_classified(status, outcome):
    assert classify(status, {}, b"", 3).outcome == outcome


@pytest.mark.parametrize("address, public", [
    ("127.0.0.1", False), ("10.1.2.3", False), ("192.168.0.1", False), ("169.254.169.254", False),
    ("100.64.0.1", False), ("::1", False), ("fe80::1", False), ("::ffff:127.0.0.1", False),
    ("0.0.0.0", False), ("224.0.0.1", False), ("8.8.8.8", True), ("2a00:1450:4009:81f::200e", True),
])
def test_private_loopback_and_link_local_addresses_are_not_public(address, public):
    assert is_public_address(address) is public


def test_urls_are_refused_for_private_addresses_and_plain_http_in_production():
    assert "private" in url_problem("http://127.0.0.1/x", https_only=False, allow_private_network=False)
    assert url_problem("http://127.0.0.1/x", https_only=False, allow_private_network=True) is None
    assert "https" in url_problem("http://dvla.example/x", https_only=True, allow_private_network=False)
    assert url_problem("https://dvla.example/x", https_only=True, allow_private_network=False) is None
    assert "not an http" in url_problem("ftp://dvla.example/x", https_only=False, allow_private_network=False)


def test_a_name_that_resolves_to_loopback_is_refused_when_connecting():
    async def go():
        async with WebhookSender().init(TEST, connect_timeout=1, total_timeout=2) as sender:
            return await sender.deliver(url="http://localhost:9/hook", body=b"{}", headers={})

    result = asyncio.run(go())
    assert result.outcome is Outcome.RETRY and result.error.startswith("refused: localhost resolves only")
