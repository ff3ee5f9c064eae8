"""What a page takes in a post, decided once for every form before any view reads it.

Pages take what a browser sends from their own forms, and nothing else:

- only from the service's own pages: a post whose ``Origin`` is another site, or
  that the browser marks ``Sec-Fetch-Site: cross-site`` or ``same-site``, is a 403,
  even with the victim's cookie and CSRF token (a second line behind the token,
  as OWASP's CSRF cheat sheet advises). A post without either header (an older
  browser, curl) is left to the token alone;
- only form bodies: ``application/x-www-form-urlencoded`` or ``multipart/form-data``
  (415 for anything else, JSON included, which Flask-WTF would otherwise read
  into a form);
- no files: no page asks for one, so a file part is a 400.

The department API (bearer keys, no cookies) and the other machine-facing paths
take JSON and are left alone.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import Flask, abort, current_app, request

from tellusonce.web.errors import MACHINE_PREFIXES

log = logging.getLogger(__name__)
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
# Sec-Fetch-Site values a post from one of our own pages can carry ("none": the person started it).
OWN_SITE = frozenset({"same-origin", "none"})
DEFAULT_PORTS = {"http": 80, "https": 443}


def init_app(app: Flask) -> None:
    """Register the check; call before ``csrf.init_app`` so that it runs first."""
    app.before_request(_check_post)


def _check_post() -> None:
    if request.method not in STATE_CHANGING or request.path.startswith(MACHINE_PREFIXES):
        return
    if request.routing_exception is not None:
        return  # no page here, or not one that takes posts: its 404 or 405 says so
    if not _from_own_site():
        log.info("form refused: sent from another site", extra={"event": "cross_site_post"})
        abort(403)
    if not _is_form():
        log.info("form refused: not a form body", extra={"event": "not_a_form"})
        abort(415)
    if request.mimetype == "multipart/form-data" and request.files:
        log.info("form refused: it carries a file", extra={"event": "file_in_form"})
        abort(400)


def _from_own_site() -> bool:
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site.strip().lower() not in OWN_SITE:
        return False
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    ours = {_origin_of(current_app.config["SETTINGS"].base_url), _origin_of(request.host_url)}
    theirs = _origin_of(origin)
    return theirs is not None and theirs in ours


def _origin_of(url: str) -> str | None:
    """``scheme://host:port`` with the scheme and host lower-cased and the port always given;
    None for anything that is not an http(s) origin (``null``, a bad port)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    return f"{scheme}://{parts.hostname.lower()}:{port or DEFAULT_PORTS[scheme]}"


def _is_form() -> bool:
    if request.mimetype in FORM_TYPES:
        return True
    # No body and no type (curl -X POST): nothing to misread; the CSRF check refuses it.
    return not request.mimetype and not request.content_length
