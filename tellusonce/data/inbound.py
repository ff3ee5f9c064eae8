"""Queries about inbound email and its confirmation tokens."""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tellusonce.data.citizens import hash_token, issue_token
from tellusonce.models import Citizen, EmailToken, InboundMessage, InboundStatus, TokenPurpose

CONFIRMATION_LIFETIME = timedelta(hours=24)


def next_received(session: Session) -> InboundMessage | None:
    """The oldest message not yet processed. Not locked: it is read outside any write transaction,
    and whoever records it checks that it is still received (``tellusonce_mail.processing``)."""
    return session.scalars(
        select(InboundMessage)
        .where(InboundMessage.status == InboundStatus.RECEIVED)
        .order_by(InboundMessage.received_at, InboundMessage.id)
        .limit(1)
    ).first()


def get_inbound(session: Session, message_id: uuid.UUID | str) -> InboundMessage | None:
    try:
        key = message_id if isinstance(message_id, uuid.UUID) else uuid.UUID(str(message_id))
    except ValueError:
        return None
    return session.get(InboundMessage, key)


def list_inbound(session: Session, *, status: str | None = None, limit: int = 50) -> Sequence[InboundMessage]:
    query = select(InboundMessage).order_by(InboundMessage.received_at.desc(), InboundMessage.id).limit(limit)
    if status:
        query = query.where(InboundMessage.status == status)
    return session.scalars(query).all()


def count_by_status(session: Session) -> dict[str, int]:
    rows = session.execute(select(InboundMessage.status, func.count()).group_by(InboundMessage.status))
    return {status: count for status, count in rows}


def new_confirmation_secret() -> str:
    """160 random bits in lower-case base 32: safe in a link and in an email address's local part,
    whose case mail systems may change."""
    return base64.b32encode(secrets.token_bytes(20)).decode("ascii").lower().rstrip("=")


def issue_confirmation(
    session: Session, citizen: Citizen, report_id: uuid.UUID, *, now: datetime,
    lifetime: timedelta = CONFIRMATION_LIFETIME,
) -> str:
    """A single-use token that confirms one emailed change; only its hash is kept."""
    return issue_token(session, citizen, TokenPurpose.CONFIRM_EMAILED_CHANGE, lifetime=lifetime, now=now,
                       report_id=report_id, make_secret=new_confirmation_secret)


def confirmation_token(session: Session, raw: str) -> EmailToken | None:
    """The confirmation token for ``raw`` whatever its state (used, expired), to say what became of it."""
    if not raw or len(raw) > 200:
        return None
    return session.scalars(
        select(EmailToken).where(
            EmailToken.token_hash == hash_token(raw),
            EmailToken.purpose == TokenPurpose.CONFIRM_EMAILED_CHANGE.value,
        )
    ).first()
