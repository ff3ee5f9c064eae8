"""Queries over the email outbox (``outgoing_email``): claiming what is due, recording how it went,
and counting what went to an address."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tellusonce.models import OutgoingEmail, OutgoingState

ERROR_CHARS = 2000  # what is kept of a relay's error


def claim_due_emails(session: Session, *, now: datetime, limit: int, lease: timedelta) -> list[OutgoingEmail]:
    """Up to ``limit`` queued emails due by ``now``, oldest due first, each counted as one more attempt
    and due again only once ``lease`` has passed (so a sender that dies mid-send leaves them to the
    next). Rows another transaction holds are skipped (``SKIP LOCKED`` on PostgreSQL). Flushed."""
    rows = list(session.scalars(
        select(OutgoingEmail)
        .where(OutgoingEmail.state == OutgoingState.QUEUED, OutgoingEmail.next_attempt_at <= now)
        .order_by(OutgoingEmail.next_attempt_at, OutgoingEmail.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ))
    for row in rows:
        row.attempts = (row.attempts or 0) + 1
        row.next_attempt_at = now + lease
    session.flush()
    return rows


def record_email_outcome(session: Session, email_id: uuid.UUID, *, state: str, sent_at: datetime | None = None,
                         error: str | None = None, next_attempt_at: datetime | None = None,
                         bodies: tuple[str, str | None] | None = None, attempts: int | None = None) -> None:
    """The outcome of one attempt: its new state, the error if any, when it is due again (only while
    queued), for an email sent or captured the bodies that went out, and ``attempts`` to set the count
    back when the attempt does not count (the relay refused the sender, not the email). Flushed."""
    row = session.get(OutgoingEmail, email_id)
    if row is None:
        return
    if attempts is not None:
        row.attempts = attempts
    row.state = state
    row.last_error = error[:ERROR_CHARS] if error else row.last_error
    row.sent_at = sent_at or row.sent_at
    row.next_attempt_at = next_attempt_at if state == OutgoingState.QUEUED else None
    if bodies is not None:
        row.body_text, row.body_html = bodies
    session.flush()


def emails_sent_to(session: Session, address: str, *, purposes: Iterable[str], since: datetime) -> int:
    """How many emails with one of ``purposes`` went (or are queued) to ``address`` since ``since``."""
    return session.scalar(
        select(func.count())
        .select_from(OutgoingEmail)
        .where(
            func.lower(OutgoingEmail.to_address) == address.lower(),
            OutgoingEmail.created_at >= since,
            OutgoingEmail.purpose.in_(list(purposes)),
        )
    ) or 0


def record_provider_id(session: Session, email_id: uuid.UUID, provider_id: str | None) -> None:
    """The provider's id for an email it took (GOV.UK Notify's notification id), unless a delivery
    receipt that overtook the sender has recorded it already. Flushed."""
    row = session.get(OutgoingEmail, email_id)
    if row is not None and provider_id and row.provider_id is None:
        row.provider_id = provider_id
        session.flush()


def email_for_receipt(session: Session, *, reference: uuid.UUID | None, provider_id: str) -> OutgoingEmail | None:
    """The email a provider's delivery receipt is about, locked for update: the one whose id the provider
    was given as its reference, or else the one the provider's id was recorded on."""
    if reference is not None:
        row = session.scalar(select(OutgoingEmail).where(OutgoingEmail.id == reference).with_for_update())
        if row is not None:
            return row
    return session.scalar(
        select(OutgoingEmail).where(OutgoingEmail.provider_id == provider_id).order_by(OutgoingEmail.id).limit(1)
        .with_for_update()
    )


def record_delivery_status(session: Session, email: OutgoingEmail, *, provider_id: str, status: str, at: datetime,
                           delivered: bool) -> None:
    """A delivery receipt on ``email``: its status as of ``at``, when it was delivered if it was, and the
    provider's id if none was recorded yet (a receipt can overtake the sender's own record). Flushed."""
    email.provider_id = email.provider_id or provider_id
    email.delivery_status = status
    email.delivery_status_at = at
    if delivered:
        email.delivered_at = at
    session.flush()
