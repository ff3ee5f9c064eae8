"""Consent as stored: grants and their append-only events (with the receipts the application
layer makes), the reads the consent decision needs, and what withdrawing cancels."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import Table, bindparam, insert, or_, select
from sqlalchemy.orm import Session

from tellusonce.data.outbox import cancel_queued
from tellusonce.models import (
    ConsentEvent,
    ConsentGrant,
    ConsentScope,
    Notification,
)

_GRANTS = cast(Table, ConsentGrant.__table__)
# Every submission with a consent given runs them (each an executemany).
_INSERT_GRANT = insert(_GRANTS)
_INSERT_EVENT = insert(cast(Table, ConsentEvent.__table__))


class GrantRow(NamedTuple):
    """One grant as the consent decision reads it, as a plain row."""

    id: uuid.UUID
    department_id: str
    scope: str
    change_types: list[str]
    granted_at: datetime
    receipt_id: uuid.UUID
    report_id: uuid.UUID | None
    expires_at: datetime | None
    withdrawn_at: datetime | None


def add_grant(session: Session, grant_row: Mapping[str, Any], event_row: Mapping[str, Any]) -> ConsentEvent:
    """Add a grant and its "granted" event (column values) to the session, to be written with its next flush."""
    grant = ConsentGrant(**grant_row)
    session.add(grant)
    return add_event(session, grant, event_row)


def add_event(session: Session, grant: ConsentGrant, event_row: Mapping[str, Any]) -> ConsentEvent:
    """Add one of ``grant``'s events (column values) to the session."""
    event = ConsentEvent(**event_row, grant=grant)
    session.add(event)
    return event


def insert_grants(session: Session, rows: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]]) -> None:
    """Write grants and their events, as plain rows: two statements however many."""
    if rows:
        connection = session.connection()
        connection.execute(_INSERT_GRANT, [grant for grant, _ in rows])
        connection.execute(_INSERT_EVENT, [event for _, event in rows])


_VIEW_COLUMNS = (_GRANTS.c.id, _GRANTS.c.department_id, _GRANTS.c.scope, _GRANTS.c.change_types, _GRANTS.c.granted_at,
                 _GRANTS.c.receipt_id, _GRANTS.c.report_id, _GRANTS.c.expires_at, _GRANTS.c.withdrawn_at)
_ALL_GRANTS = select(*_VIEW_COLUMNS).where(_GRANTS.c.citizen_id == bindparam("citizen"))
# A one-off grant counts only for its own report; with no report given, ``report_id = NULL`` is never true.
_GRANTS_AT = _ALL_GRANTS.where(
    _GRANTS.c.granted_at <= bindparam("now"),
    or_(_GRANTS.c.withdrawn_at.is_(None), _GRANTS.c.withdrawn_at > bindparam("now")),
    or_(_GRANTS.c.expires_at.is_(None), _GRANTS.c.expires_at > bindparam("now")),
    or_(_GRANTS.c.scope == ConsentScope.STANDING, _GRANTS.c.report_id == bindparam("report", type_=_GRANTS.c.report_id.type)),
)


def grant_rows(session: Session, citizen_id: uuid.UUID, *, now: datetime | None = None,
               report_id: uuid.UUID | None = None) -> list[GrantRow]:
    """The citizen's grants, read as plain rows.

    With ``now``, only grants that can be in force then (and one-off grants only
    for ``report_id``) are read: a citizen's history grows with every report, and
    the decision need not see it all.
    """
    session.flush()  # grants still pending in the session count too (a plain read does not autoflush)
    if now is None:
        rows = session.connection().execute(_ALL_GRANTS, {"citizen": citizen_id})
    else:
        rows = session.connection().execute(_GRANTS_AT, {"citizen": citizen_id, "now": now, "report": report_id})
    return [GrantRow(*row) for row in rows]


def grants_not_withdrawn(session: Session, citizen_id: uuid.UUID) -> list[ConsentGrant]:
    """The citizen's grants not withdrawn, newest first (some may have expired)."""
    return list(session.scalars(
        select(ConsentGrant)
        .where(ConsentGrant.citizen_id == citizen_id, ConsentGrant.withdrawn_at.is_(None))
        .order_by(ConsentGrant.granted_at.desc())
    ))


def find_grant(session: Session, citizen_id: uuid.UUID, grant_id: uuid.UUID) -> ConsentGrant | None:
    """The grant, only if it is this citizen's."""
    return session.scalar(
        select(ConsentGrant).where(ConsentGrant.id == grant_id, ConsentGrant.citizen_id == citizen_id)
    )


def cancel_queued_under(session: Session, receipt_id: uuid.UUID, *, now: datetime) -> int:
    """Cancel the notifications queued under this consent receipt and not yet sent; how many."""
    return len(cancel_queued(session, Notification.consent_receipt_id == receipt_id, now=now,
                             reason="consent withdrawn before delivery"))


def get_receipt(session: Session, *, citizen_id: uuid.UUID, receipt_id: uuid.UUID) -> ConsentEvent | None:
    """The event carrying this receipt, only if it is this citizen's."""
    return session.scalar(
        select(ConsentEvent).where(ConsentEvent.receipt_id == receipt_id, ConsentEvent.citizen_id == citizen_id)
    )


def receipts_in_force(session: Session, receipt_ids: Iterable[uuid.UUID], *, now: datetime) -> set[uuid.UUID]:
    """Of these consent receipts, those whose grant is not withdrawn (by ``now``): checked again at
    dispatch, so a notification goes out only while the grant it was queued under stands.

    Expiry is judged when the report is submitted: a change reported while consent
    was in force may still be delivered after a standing consent's end date.
    """
    ids = list(set(receipt_ids))
    if not ids:
        return set()
    rows = session.execute(
        select(ConsentGrant.receipt_id).where(
            ConsentGrant.receipt_id.in_(bindparam("receipts", expanding=True)),
            or_(ConsentGrant.withdrawn_at.is_(None), ConsentGrant.withdrawn_at > now),
        ),
        {"receipts": ids},
    )
    return {receipt_id for (receipt_id,) in rows}
