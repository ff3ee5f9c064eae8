"""Who is signed in: the session cookie, ``current_citizen()`` and ``login_required``.

Flask's session is a signed cookie that the server cannot delete. Each one
carries the citizen's ``session_version`` at sign-in; signing out or resetting
the password increments it, so every older cookie (a copy on another device, or
one stolen) stops working. Signing in clears the session and issues a new one
(a fresh CSRF token too), so a session fixed before sign-in is worth nothing.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import g, redirect, request, session, url_for
from werkzeug.wrappers import Response

from tellusonce.clock import utcnow
from tellusonce.data.citizens import end_sessions, get_citizen
from tellusonce.models import Citizen
from tellusonce.web.database import get_session

F = TypeVar("F", bound=Callable[..., Any])
_SIGNED_OUT = object()


def current_citizen() -> Citizen | None:
    """The signed-in, verified citizen for this request, or None."""
    cached = g.get("current_citizen", _SIGNED_OUT)
    if cached is not _SIGNED_OUT:
        return cached
    citizen = _load_citizen()
    g.current_citizen = citizen
    return citizen


def _load_citizen() -> Citizen | None:
    citizen_id = session.get("citizen_id")
    if not citizen_id:
        return None
    citizen = get_citizen(get_session(), citizen_id)
    if (citizen is None or not citizen.is_verified or citizen.is_closed
            or citizen.session_version != session.get("session_version")):
        session.clear()
        return None
    return citizen


def login_required(view: F) -> F:
    """Send a visitor who is not signed in to the sign-in page, and back here afterwards."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_citizen() is None:
            target = request.full_path if request.method == "GET" else request.path
            return redirect(url_for("account.sign_in", next=safe_next(target.rstrip("?"))))
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]  # functools.wraps keeps the view's signature


def sign_in(citizen: Citizen) -> None:
    """Start a new session for ``citizen``: everything in the old one is dropped."""
    language = session.get("language")
    session.clear()
    session.permanent = True
    session["citizen_id"] = str(citizen.id)
    session["session_version"] = citizen.session_version
    session["signed_in_at"] = utcnow().isoformat()
    if language:
        session["language"] = language
    g.current_citizen = citizen


def sign_out(*, everywhere: bool = True) -> None:
    """End this session and, by default, every other session of the same citizen."""
    citizen = current_citizen()
    if citizen is not None and everywhere:
        end_sessions(get_session(), citizen)
    session.clear()
    g.current_citizen = None


def safe_next(target: str | None, default: str | None = None) -> str | None:
    """``target`` if it is a path on this site, else ``default``: never an open redirect."""
    if not target or len(target) > 2000:
        return default
    # Browsers drop tabs and line breaks from a URL ("/\t/evil.example" is "//evil.example") and
    # read a backslash as a slash: control characters of any kind are refused with them.
    if any(c == "\\" or unicodedata.category(c) == "Cc" for c in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target


def redirect_next(default_endpoint: str) -> Response:
    """Redirect to a safe ``next`` from the form or query string, or to ``default_endpoint``."""
    target = safe_next(request.form.get("next") or request.args.get("next"))
    return redirect(target or url_for(default_endpoint))
