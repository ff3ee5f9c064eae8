"""The client's real address behind the operator's reverse proxies, and only theirs.

A request that comes from one of ``TELLUSONCE_FORWARDED_ALLOW_IPS`` (the proxies' addresses or
networks) is read through werkzeug's ``ProxyFix``: its client address is the one the nearest
``TELLUSONCE_PROXY_HOPS`` proxies put in ``X-Forwarded-For`` (counted from the right, so an
address the client wrote there itself is never taken), and its scheme their
``X-Forwarded-Proto``. A request from any other peer keeps its own address: an
``X-Forwarded-For`` it sends is ignored, so that nobody can pick their own rate-limit bucket.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from werkzeug.middleware.proxy_fix import ProxyFix

from tellusonce.settings import trusted_networks

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TrustedProxies:
    """WSGI middleware: ``ProxyFix`` for requests from a trusted proxy, the request as it came otherwise."""

    def __init__(self, app: WSGIApplication, *, networks: Iterable[Network] | None, hops: int) -> None:
        self.app = app
        self.networks = None if networks is None else tuple(networks)
        self.fixed = ProxyFix(app, x_for=hops, x_proto=hops)

    def trusts(self, peer: str | None) -> bool:
        if self.networks is None:
            return True
        try:
            address = ipaddress.ip_address((peer or "").split("%", 1)[0])
        except ValueError:
            return False  # a Unix socket or no peer at all: nothing says it is a proxy
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        return any(address in network for network in self.networks)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if self.trusts(environ.get("REMOTE_ADDR")):
            return self.fixed(environ, start_response)
        return self.app(environ, start_response)


def wrap(app: Any, *, forwarded_allow_ips: str, proxy_hops: int) -> Any:
    """``app`` behind ``TrustedProxies``, or ``app`` itself when no proxy is trusted."""
    networks = trusted_networks(forwarded_allow_ips)
    if networks == ():
        return app
    return TrustedProxies(app, networks=networks, hops=proxy_hops)
