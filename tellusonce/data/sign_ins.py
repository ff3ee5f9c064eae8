"""Queries about sign-ins: record one, read a citizen's recent ones."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from tellusonce.models import SignInEvent, SignInMethod

MOST_SHOWN = 200


def record_sign_in(session: Session, citizen_id: uuid.UUID, *, method: SignInMethod, succeeded: bool,
                   at: datetime, browser: str | None = None, system: str | None = None) -> SignInEvent:
    """One sign-in (or one refused password) of this citizen, in the caller's transaction."""
    event = SignInEvent(citizen_id=citizen_id, at=at, method=method.value, succeeded=succeeded,
                        browser=(browser or None) and browser[:60], system=(system or None) and system[:60])
    session.add(event)
    session.flush()
    return event


def recent_sign_ins(session: Session, citizen_id: uuid.UUID, *, since: datetime,
                    limit: int = MOST_SHOWN) -> Sequence[SignInEvent]:
    """This citizen's sign-ins since ``since``, newest first (at most ``limit``)."""
    return session.scalars(
        select(SignInEvent)
        .where(SignInEvent.citizen_id == citizen_id, SignInEvent.at >= since)
        .order_by(SignInEvent.at.desc())
        .limit(limit)
    ).all()
