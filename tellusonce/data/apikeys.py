"""Department API keys: created once, shown once, stored as a hash, revocable.

A key looks like ``tuo_<prefix>_<secret>``. The prefix (not secret) finds the
row; the SHA-256 of the whole key is compared in constant time. The secret part
holds 256 random bits, so a fast hash is enough (a slow password hash protects
guessable secrets; these are not). A department may hold several active keys,
so that it can rotate: create a new one, move its systems over, revoke the old.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from tellusonce.data.audit import record_event
from tellusonce.models import Department, DepartmentApiKey

KEY_PREFIX = "tuo_"
_PREFIX_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class NewKey:
    key: DepartmentApiKey
    plaintext: str  # shown once, never stored


def _hash(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def create_api_key(session: Session, *, department_id: str, now: datetime, label: str | None = None,
                   actor: str = "operator") -> NewKey:
    if session.get(Department, department_id) is None:
        raise LookupError(department_id)
    prefix = "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(10))
    plaintext = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    key = DepartmentApiKey(department_id=department_id, prefix=prefix, key_hash=_hash(plaintext),
                           label=label, created_at=now)
    session.add(key)
    session.flush()
    record_event(session, actor=actor, action="api_key.created", subject_type="department",
                 subject_id=department_id, details={"prefix": prefix}, at=now)
    return NewKey(key, plaintext)


class KeyProblem(StrEnum):
    """Why a bearer token does not admit its caller; the API says which."""

    MISSING = "missing"  # no token at all
    UNRECOGNISED = "unrecognised"  # not a key of ours, or its secret part is wrong
    REVOKED = "revoked"  # the right key, revoked (only its holder can learn that: the hash matched)
    INACTIVE = "inactive"  # the right key, of a department no longer on the register


@dataclass(frozen=True)
class Authentication:
    key: DepartmentApiKey | None
    problem: KeyProblem | None = None
    revoked_at: datetime | None = None


def authenticate(session: Session, presented: str, *, now: datetime) -> Authentication:
    """The active key this bearer token is, or why it is not one.

    Whether a key was revoked, or its department is inactive, is said only to a caller who
    presents the whole key (its hash matches): a guessed or borrowed prefix learns nothing.
    """
    if not presented:
        return Authentication(None, KeyProblem.MISSING)
    if not presented.startswith(KEY_PREFIX) or presented.count("_") < 2:
        return Authentication(None, KeyProblem.UNRECOGNISED)
    prefix = presented[len(KEY_PREFIX):].split("_", 1)[0]
    key = session.scalar(select(DepartmentApiKey).where(DepartmentApiKey.prefix == prefix))
    if key is None or not hmac.compare_digest(key.key_hash, _hash(presented)):
        return Authentication(None, KeyProblem.UNRECOGNISED)
    if key.revoked_at is not None:
        return Authentication(None, KeyProblem.REVOKED, revoked_at=key.revoked_at)
    department = session.get(Department, key.department_id)
    if department is None or not department.active:
        return Authentication(None, KeyProblem.INACTIVE)
    if key.last_used_at is None or now - key.last_used_at > TOUCH_EVERY:
        key.last_used_at = now
        session.flush()
    return Authentication(key)


def list_api_keys(session: Session, department_id: str) -> Sequence[DepartmentApiKey]:
    return session.scalars(
        select(DepartmentApiKey).where(DepartmentApiKey.department_id == department_id)
        .order_by(DepartmentApiKey.created_at)
    ).all()


def revoke_api_key(session: Session, *, department_id: str, prefix: str, now: datetime,
                   actor: str = "operator") -> bool:
    key = session.scalar(select(DepartmentApiKey).where(DepartmentApiKey.department_id == department_id,
                                                        DepartmentApiKey.prefix == prefix))
    if key is None or key.revoked_at is not None:
        return False
    key.revoked_at = now
    record_event(session, actor=actor, action="api_key.revoked", subject_type="department",
                 subject_id=department_id, details={"prefix": prefix}, at=now)
    session.flush()
    return True
