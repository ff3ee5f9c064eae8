"""Queries about citizens and the single-use tokens emailed to them.

Email addresses are kept and looked up in one canonical form, which callers
give (``tellusonce.domain.fields.canonical_email``). Tokens are random,
only their SHA-256 is stored, and using one is a conditional update, so two
clicks on the same link cannot both succeed.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from functools import cache
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from tellusonce.clock import utcnow
from tellusonce.data.by_key import get_by_key, read_by_key
from tellusonce.data.driver import changed_rows
from tellusonce.models import Citizen, EmailToken, TokenPurpose

PROFILE_FIELDS = (
    "given_names",
    "family_name",
    "date_of_birth",
    "ni_number",
    "address_line_1",
    "address_line_2",
    "town",
    "postcode",
    "phone",
)
TOKEN_BYTES = 32


class EmailTaken(ValueError):
    """``uq_citizen_email``: an account already uses this address."""

    constraint = "uq_citizen_email"


_CITIZENS = cast(Table, Citizen.__table__)
# Every signed-in request reads its citizen: one Core statement (compiled once, from SQLAlchemy's
# compiled cache) read as a plain row costs less than the ORM's query and load.
_BY_ID = read_by_key(Citizen)


def get_citizen(session: Session, citizen_id: uuid.UUID | str) -> Citizen | None:
    """The citizen with this id (from the session when it holds them already), or None."""
    try:
        key = citizen_id if isinstance(citizen_id, uuid.UUID) else uuid.UUID(str(citizen_id))
    except ValueError:
        return None
    return get_by_key(session, Citizen, key, _BY_ID)


def get_citizen_by_email(session: Session, address: str) -> Citizen | None:
    """The citizen with this address (in canonical form: ``domain.fields.canonical_email``)."""
    return session.scalars(select(Citizen).where(func.lower(Citizen.email) == address)).first()


def create_citizen(session: Session, *, email: str, password_hash: str, language: str = "en") -> Citizen:
    """A new, unverified account for ``email`` (in canonical form). Raises ``EmailTaken`` if the
    address has one already."""
    citizen = Citizen(email=email, password_hash=password_hash, language=language, session_version=0)
    try:
        with session.begin_nested():
            session.add(citizen)
            session.flush()
    except IntegrityError as e:
        raise EmailTaken(citizen.email) from e
    return citizen


def mark_email_verified(citizen: Citizen, *, now: datetime) -> None:
    if citizen.email_verified_at is None:
        citizen.email_verified_at = now


def set_password(session: Session, citizen: Citizen, password_hash: str) -> None:
    """Change the password and end every session signed in with the old one."""
    citizen.password_hash = password_hash
    end_sessions(session, citizen)


def end_sessions(session: Session, citizen: Citizen) -> None:
    """Make every session cookie issued so far for this citizen stop working."""
    citizen.session_version = (citizen.session_version or 0) + 1
    session.flush()


def update_profile(session: Session, citizen: Citizen, values: Mapping[str, Any]) -> None:
    """Set the profile answers given; an empty answer clears that detail."""
    unknown = set(values) - set(PROFILE_FIELDS)
    if unknown:
        raise ValueError(f"not profile fields: {', '.join(sorted(unknown))}")
    for name, value in values.items():
        setattr(citizen, name, value if value not in ("", None) else None)
    session.flush()


def write_profile(session: Session, citizen: Citizen, values: Mapping[str, Any]) -> None:
    """``update_profile`` as one UPDATE statement in the caller's transaction, the loaded citizen
    taking the values as written (the intake's one write to the account: no unit of work to flush)."""
    unknown = set(values) - set(PROFILE_FIELDS)
    if unknown:
        raise ValueError(f"not profile fields: {', '.join(sorted(unknown))}")
    written = {name: value if value not in ("", None) else None for name, value in values.items()}
    if not written:
        return
    written["updated_at"] = utcnow()
    session.connection().execute(_profile_update(tuple(written)),
                                 {"citizen": citizen.id, **{f"new_{name}": value for name, value in written.items()}})
    for name, value in written.items():
        set_committed_value(citizen, name, value)


@cache
def _profile_update(columns: tuple[str, ...]) -> Any:
    """The UPDATE of these columns of one citizen, built once for each set of columns (a statement
    built anew for every write costs its cache key each time)."""
    return (update(_CITIZENS).where(_CITIZENS.c.id == bindparam("citizen"))
            .values({name: bindparam(f"new_{name}") for name in columns}))


def set_language(session: Session, citizen: Citizen, language: str) -> None:
    """Record the language the citizen wants us to write to them in (``en`` or ``cy``)."""
    if language not in ("en", "cy"):
        raise ValueError(f"not a language the service writes in: {language!r}")
    citizen.language = language
    session.flush()


def set_report_emails(session: Session, citizen: Citizen, wanted: bool) -> None:
    """Whether the citizen is emailed about what happens to their reports."""
    citizen.report_emails = wanted
    session.flush()


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def issue_token(
    session: Session,
    citizen: Citizen,
    purpose: TokenPurpose,
    *,
    lifetime: timedelta,
    now: datetime,
    report_id: uuid.UUID | None = None,
    new_email: str | None = None,
    make_secret: Callable[[], str] = lambda: secrets.token_urlsafe(TOKEN_BYTES),
) -> str:
    """A new single-use token for an emailed link; the raw value is returned, only its hash kept."""
    raw = make_secret()
    session.add(
        EmailToken(
            citizen_id=citizen.id,
            purpose=purpose.value,
            token_hash=hash_token(raw),
            created_at=now,
            expires_at=now + lifetime,
            report_id=report_id,
            new_email=new_email,
        )
    )
    session.flush()
    return raw


def find_token(session: Session, raw: str, purpose: TokenPurpose, *, now: datetime) -> EmailToken | None:
    """The token if it exists for this purpose, is unused and has not expired; changes nothing."""
    if not raw or len(raw) > 200:
        return None
    token = session.scalars(select(EmailToken).where(EmailToken.token_hash == hash_token(raw))).first()
    if token is None or token.purpose != purpose.value or token.used_at is not None or token.expires_at <= now:
        return None
    return token


def use_token(session: Session, raw: str, purpose: TokenPurpose, *, now: datetime) -> EmailToken | None:
    """Spend a token: the first use returns it, every later use (or a bad or expired one) None."""
    token = find_token(session, raw, purpose, now=now)
    if token is None:
        return None
    spent = session.execute(
        update(EmailToken)
        .where(EmailToken.id == token.id, EmailToken.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if changed_rows(spent) != 1:
        return None
    session.refresh(token)
    return token


def spend_open_tokens(session: Session, citizen: Citizen, purpose: TokenPurpose, *, now: datetime) -> int:
    """Mark every unused token of this purpose used (after a reset, older reset links stop working)."""
    result = session.execute(
        update(EmailToken)
        .where(EmailToken.citizen_id == citizen.id, EmailToken.purpose == purpose.value, EmailToken.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return changed_rows(result)


def spend_tokens(session: Session, citizen: Citizen, purposes: Iterable[TokenPurpose], *, now: datetime) -> int:
    """``spend_open_tokens`` for several purposes at once."""
    return sum(spend_open_tokens(session, citizen, purpose, now=now) for purpose in purposes)


def change_email(session: Session, citizen: Citizen, address: str, *, now: datetime) -> None:
    """Give the account ``address`` (canonical form; proved the citizen's by a link sent to it).
    Raises ``EmailTaken`` if another account has it by now. Every link sent to the old address
    stops working (confirming it, resetting the password, confirming an emailed change)."""
    try:
        with session.begin_nested():
            citizen.email = address
            session.flush()
    except IntegrityError as e:
        session.refresh(citizen)
        raise EmailTaken(address) from e
    mark_email_verified(citizen, now=now)
    spend_tokens(session, citizen, tuple(TokenPurpose), now=now)
