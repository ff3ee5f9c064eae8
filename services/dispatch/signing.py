"""Webhook signing secrets and Standard Webhooks signatures.

Each webhook department's secret lives in the environment variable its registry
entry names (``secret_env``), as a ``whsec_`` secret. During a rotation the
variable holds several, separated by commas or spaces; every event is then signed
with each, so the department can switch at its own pace.

In demo and test mode a department without the variable gets a secret derived
from ``TELLUSONCE_SECRET_KEY`` (HMAC), so that the dispatcher and the reference
receiver agree without any set-up. In production there is no default: a missing
or malformed secret is a ``MissingSecret`` for that department alone.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import lru_cache

from standardwebhooks import Webhook

from tellusonce.settings import Settings

SECRET_PREFIX = "whsec_"
_SPLIT = re.compile(r"[\s,]+")


class MissingSecret(RuntimeError):
    """A webhook department has no usable signing secret; its notifications wait."""

    def __init__(self, department_id: str, message: str) -> None:
        super().__init__(message)
        self.department_id = department_id


def derived_secret(secret_key: str, department_id: str) -> str:
    """The stable demo/test secret for one department."""
    digest = hmac.new(secret_key.encode(), f"tellusonce webhook secret:{department_id}".encode(), hashlib.sha256)
    return SECRET_PREFIX + base64.b64encode(digest.digest()).decode()


def parse_secrets(raw: str) -> list[str]:
    """The secrets in one environment variable value; raises ValueError naming the problem."""
    found = [part for part in _SPLIT.split(raw.strip()) if part]
    if not found:
        raise ValueError("it is empty")
    for part in found:
        if not part.startswith(SECRET_PREFIX):
            raise ValueError("each secret must start with whsec_")
        try:
            key = base64.b64decode(part[len(SECRET_PREFIX):], validate=True)
        except ValueError as e:
            raise ValueError("a secret is not valid base64 after whsec_") from e
        if len(key) < 24:
            raise ValueError("a secret must hold at least 24 random bytes")
    return found


def department_secrets(
    settings: Settings, department_id: str, secret_env: str | None,
    environ: Mapping[str, str] | None = None,
) -> list[str]:
    """Every active secret for a department, newest first as the operator listed them."""
    env = os.environ if environ is None else environ
    raw = env.get(secret_env or "", "")
    if raw.strip():
        try:
            return parse_secrets(raw)
        except ValueError as e:
            raise MissingSecret(department_id, f"{secret_env} cannot be used: {e}") from e
    if not settings.is_production:
        return [derived_secret(settings.secret_key, department_id)]
    if not secret_env:
        raise MissingSecret(department_id, f"department {department_id} has no secret_env in the registry")
    raise MissingSecret(
        department_id,
        f"{secret_env} is not set: set it to the department's whsec_ signing secret "
        f"(several, separated by spaces, while rotating)",
    )


@lru_cache(maxsize=256)
def _webhook(secret: str) -> Webhook:
    return Webhook(secret)


def signature_headers(body: bytes, *, msg_id: str, at: datetime, secrets: Sequence[str]) -> dict[str, str]:
    """The three Standard Webhooks headers, with one ``v1,`` signature per secret."""
    text = body.decode("utf-8")
    signatures = " ".join(_webhook(secret).sign(msg_id, at, text) for secret in secrets)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signatures,
    }
