"""Webhook delivery: POST one signed CloudEvent to a department and classify the answer.

One ``WebhookSender`` per worker process holds the connection pools (keep-alive,
no limit of its own: the worker bounds concurrency). Every request has a connect
timeout and a total timeout, reads at most ``max_response_bytes`` of the answer,
follows no redirect, and reaches only public addresses unless the department's
registry entry says ``allow_private_network`` (the guard runs in the resolver,
so the address checked is the address connected to). Outside demo and test mode
only https URLs are used.

The answer is classified (STYLE habit 7): 2xx delivered; network errors,
timeouts, 408, 429 and 5xx retry (honouring Retry-After); 410 gone; other 4xx
permanent.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import ResolveResult
from aiohttp.resolver import ThreadedResolver

from tellusonce.clock import system_now
from tellusonce.domain.events import CONTENT_TYPE
from tellusonce.settings import Settings

USER_AGENT = "TellUsOnce-Webhooks/1"
MAX_RETRY_AFTER = 24 * 3600.0
RETRY_STATUSES = frozenset({408, 429})


class Outcome(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    PERMANENT = "permanent"
    GONE = "gone"


class DeliveryResult(NamedTuple):  # a tuple: made for every delivery, thousands a second
    outcome: Outcome
    status_code: int | None = None
    latency_ms: int | None = None
    error: str | None = None
    retry_after: float | None = None  # seconds the department asked us to wait

    @property
    def delivered(self) -> bool:
        return self.outcome is Outcome.DELIVERED


class WebhookError(RuntimeError):
    """The sender was used wrongly (not initialised, or used after it was closed)."""


class AddressRefused(OSError):
    """The host resolves only to addresses a webhook may not reach."""


def is_public_address(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


class PublicOnlyResolver(ThreadedResolver):
    """Resolves names, then keeps only public addresses (or refuses the host)."""

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        found = await super().resolve(host, port, family)
        public = [entry for entry in found if is_public_address(entry["host"])]
        if not public:
            raise AddressRefused(f"{host} resolves only to private, loopback or link-local addresses")
        return public


class WebhookSender:
    """Create unbound, ``init(settings)`` it, use it inside one event loop, ``await close()``."""

    def __init__(self) -> None:
        self.connect_timeout = 5.0
        self.total_timeout = 15.0
        self.max_response_bytes = 64 * 1024
        self.https_only = True
        self._sessions: dict[bool, aiohttp.ClientSession] = {}
        self._initialised = False

    def init(self, settings: Settings, *, connect_timeout: float | None = None,
             total_timeout: float | None = None, max_response_bytes: int | None = None) -> WebhookSender:
        self.https_only = settings.is_production
        if connect_timeout is not None:
            self.connect_timeout = connect_timeout
        if total_timeout is not None:
            self.total_timeout = total_timeout
        if max_response_bytes is not None:
            self.max_response_bytes = max_response_bytes
        self._initialised = True
        return self

    def _session(self, allow_private: bool) -> aiohttp.ClientSession:
        session = self._sessions.get(allow_private)
        if session is None:
            resolver = ThreadedResolver() if allow_private else PublicOnlyResolver()
            connector = aiohttp.TCPConnector(limit=0, resolver=resolver, ttl_dns_cache=60,
                                             enable_cleanup_closed=False)
            session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=self.total_timeout, connect=self.connect_timeout,
                                              sock_connect=self.connect_timeout),
                cookie_jar=aiohttp.DummyCookieJar(),
                headers={"User-Agent": USER_AGENT},
                trust_env=False,
                auto_decompress=False,
            )
            self._sessions[allow_private] = session
        return session

    async def close(self) -> None:
        sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            await session.close()

    async def __aenter__(self) -> WebhookSender:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def deliver(self, *, url: str, body: bytes, headers: Mapping[str, str],
                      allow_private_network: bool = False) -> DeliveryResult:
        if not self._initialised:
            raise WebhookError("WebhookSender.init(settings) was not called")
        problem = url_problem(url, https_only=self.https_only, allow_private_network=allow_private_network)
        if problem:
            return DeliveryResult(Outcome.PERMANENT, error=f"refused: {problem}")
        started = time.perf_counter()
        request_headers = {"Content-Type": CONTENT_TYPE, **headers}
        try:
            async with self._session(allow_private_network).post(
                url, data=body, headers=request_headers, allow_redirects=False,
            ) as response:
                status = response.status
                if 200 <= status < 300:  # the common case, kept short
                    await self._drain(response)
                    return DeliveryResult(Outcome.DELIVERED, status, _elapsed(started))
                excerpt = await response.content.read(min(self.max_response_bytes, 300))
                return classify(status, response.headers, excerpt, _elapsed(started))
        except aiohttp.ClientConnectorError as e:
            if isinstance(e.os_error, AddressRefused):
                # Not sent. DNS may change or the registry be corrected, so it waits and retries.
                return DeliveryResult(Outcome.RETRY, latency_ms=_elapsed(started),
                                      error=f"refused: {e.os_error}; set allow_private_network only for a trusted endpoint")
            return DeliveryResult(Outcome.RETRY, latency_ms=_elapsed(started), error=f"connection failed: {e}")
        except TimeoutError:
            return DeliveryResult(Outcome.RETRY, latency_ms=_elapsed(started),
                                  error=f"timed out (connect {self.connect_timeout:g}s, total {self.total_timeout:g}s)")
        except aiohttp.ClientError as e:
            return DeliveryResult(Outcome.RETRY, latency_ms=_elapsed(started),
                                  error=f"{type(e).__name__}: {e}"[:500])

    async def _drain(self, response: aiohttp.ClientResponse) -> None:
        """Reads (and drops) at most ``max_response_bytes`` of a 2xx answer: reading it lets the
        connection be used again."""
        remaining = self.max_response_bytes
        while remaining > 0 and (chunk := await response.content.read(remaining)):
            remaining -= len(chunk)


@lru_cache(maxsize=1024)
def url_problem(url: str, *, https_only: bool, allow_private_network: bool) -> str | None:
    """Why this URL may not be used, or None. Checks what can be known without DNS (so the
    answer for a URL never changes, and is kept: the worker asks for every delivery)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{url!r} is not an http(s) URL"
    if https_only and parts.scheme != "https":
        return "only https webhook URLs are used in production"
    if not allow_private_network:
        try:
            public = is_public_address(parts.hostname)
        except ValueError:  # a name, not an address: the resolver checks what it resolves to
            public = True
        if not public:
            return f"{parts.hostname} is a private, loopback or link-local address (allow_private_network is false)"
    return None


def _elapsed(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


def classify(status: int, headers: Mapping[str, str], excerpt: bytes, latency_ms: int) -> DeliveryResult:
    if 200 <= status < 300:
        return DeliveryResult(Outcome.DELIVERED, status_code=status, latency_ms=latency_ms)
    said = excerpt.decode("utf-8", "replace").strip().replace("\n", " ")[:200]
    error = f"HTTP {status}" + (f": {said}" if said else "")
    if status == 410:
        return DeliveryResult(Outcome.GONE, status_code=status, latency_ms=latency_ms, error=error)
    if 400 <= status < 500 and status not in RETRY_STATUSES:
        return DeliveryResult(Outcome.PERMANENT, status_code=status, latency_ms=latency_ms, error=error)
    if 300 <= status < 400:
        error = f"HTTP {status}: redirect to {headers.get('Location', '?')} not followed"
    return DeliveryResult(Outcome.RETRY, status_code=status, latency_ms=latency_ms, error=error,
                          retry_after=parse_retry_after(headers.get("Retry-After")))


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), capped at a day."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    seconds = (when - (now or system_now())).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)
