"""Data-rights requests that arrived by email: kept, listed and closed by an operator."""

from __future__ import annotations

import string
import uuid
from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from tellusonce.models import DataRightsRequest, RequestState


def keep_request(session: Session, *, inbound_id: uuid.UUID, received_at: datetime, from_address: str,
                 citizen_id: uuid.UUID | None, rights: Sequence[str], language: str, due_on: date) -> DataRightsRequest:
    """The request the email ``inbound_id`` made (the same row when that email is processed again)."""
    kept = session.scalars(select(DataRightsRequest).where(DataRightsRequest.inbound_id == inbound_id)).first()
    if kept is not None:
        return kept
    request = DataRightsRequest(inbound_id=inbound_id, received_at=received_at, from_address=from_address,
                                citizen_id=citizen_id, rights=list(rights), language=language, due_on=due_on,
                                state=RequestState.OPEN)
    session.add(request)
    session.flush()
    return request


def list_requests(session: Session, *, include_closed: bool = False) -> Sequence[DataRightsRequest]:
    """Requests, the soonest due first; open ones only unless ``include_closed``."""
    query = select(DataRightsRequest).order_by(DataRightsRequest.due_on, DataRightsRequest.received_at)
    if not include_closed:
        query = query.where(DataRightsRequest.state == RequestState.OPEN)
    return session.scalars(query).all()


def find_request(session: Session, prefix: str) -> DataRightsRequest | None:
    """The request whose id is ``prefix`` or starts with it (as ``requests list`` shows it), if exactly one."""
    wanted = prefix.strip().lower().replace("-", "")
    if not wanted or len(wanted) > 32 or wanted.strip(string.hexdigits):
        return None
    # The ids starting with the prefix are one range of ids: read at most two of them.
    lowest, highest = uuid.UUID(wanted.ljust(32, "0")), uuid.UUID(wanted.ljust(32, "f"))
    matches = session.scalars(select(DataRightsRequest).where(DataRightsRequest.id.between(lowest, highest))
                              .limit(2)).all()
    return matches[0] if len(matches) == 1 else None


def close_request(session: Session, request: DataRightsRequest, *, by: str, note: str | None,
                  now: datetime) -> None:
    request.state, request.closed_at, request.closed_by, request.note = RequestState.CLOSED, now, by, note
    session.flush()
