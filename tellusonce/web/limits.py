"""The rate limits of the account forms (Flask-Limiter), on POST only.

The forms a stranger can post (sign in, create an account, reset a password) are limited per
client and per email address typed; the forms of a signed-in account (change the email
address, change the password) per client and per account, and the change of address also per
address typed, so that no one mailbox can be sent a flood of links. The keys are keyed hashes:
the shared store (Redis) holds no email address or account id.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Any

from flask import current_app, request, session

from tellusonce.extensions import limiter
from tellusonce.settings import Settings

View = Callable[..., Any]


def _settings() -> Settings:
    return current_app.config["SETTINGS"]


def per_client() -> str:
    return _settings().account_rate_limit


def per_address() -> str:
    return _settings().account_rate_limit_per_address


def _keyed(kind: str, value: str) -> str:
    digest = hmac.new(_settings().secret_key.encode(), f"rate-limit:{value}".encode(), hashlib.sha256)
    return f"{kind}:" + digest.hexdigest()[:32]


def typed_address() -> str:
    """The key of the address typed: nobody without the secret can tell which addresses were tried."""
    return _keyed("address", (request.form.get("email") or "").strip().lower()[:320])


def signed_in_account() -> str:
    """The key of the account signed in (the form's view is behind ``login_required``)."""
    return _keyed("account", "account:" + str(session.get("citizen_id") or ""))


def account_form(view: View) -> View:
    """A form posted by a stranger: limited per client and per address typed."""
    view = limiter.limit(per_address, key_func=typed_address, methods=["POST"])(view)
    return limiter.limit(per_client, methods=["POST"])(view)


def signed_in_form(*, per_typed_address: bool = False) -> Callable[[View], View]:
    """A form of a signed-in account: limited per client and per account (and per address typed)."""

    def decorate(view: View) -> View:
        if per_typed_address:
            view = limiter.limit(per_address, key_func=typed_address, methods=["POST"])(view)
        view = limiter.limit(per_address, key_func=signed_in_account, methods=["POST"])(view)
        return limiter.limit(per_client, methods=["POST"])(view)

    return decorate
