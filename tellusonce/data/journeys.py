"""Report journeys in progress: read, write and delete (``tellusonce.models.ReportJourney``).

A journey is read only by its id together with its citizen's id, and only while it has not
expired: an id from one citizen's cookie never opens another's answers, and a journey a day
old reads as none even before the retention schedule deletes it (``tellusonce.data.retention``). Like every data function these flush
and never commit: a page's write is part of the request's one transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Row, Table, bindparam, delete, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from tellusonce.data.by_key import get_by_key, read_by_key
from tellusonce.models import ChangeReport, ReportJourney

LIFETIME = timedelta(hours=24)
_JOURNEYS = cast(Table, ReportJourney.__table__)
# A Core statement (compiled once, from SQLAlchemy's compiled cache): the ORM's UPDATE, with its
# synchronisation of the session, cost more than the read it saves.
_REPLACE = (update(_JOURNEYS)
            .where(_JOURNEYS.c.id == bindparam("journey_id"), _JOURNEYS.c.citizen_id == bindparam("owner"))
            .values(state=bindparam("state"), updated_at=bindparam("updated_at"), expires_at=bindparam("expires_at")))
# Every page reads its journey and sending deletes it: Core statements (the ORM's load by key and
# its bulk delete's synchronisation of the session cost more than the statements themselves).
_READ = read_by_key(ReportJourney)
_DELETE = delete(_JOURNEYS).where(_JOURNEYS.c.id == bindparam("journey_id"), _JOURNEYS.c.citizen_id == bindparam("owner"))


def load_journey(session: Session, journey_id: str, citizen_id: uuid.UUID, *, now: datetime) -> ReportJourney | None:
    """The citizen's journey with this id, unless it has expired (from the session when it holds it already)."""
    journey = get_by_key(session, ReportJourney, journey_id, _READ)
    if journey is None or journey.citizen_id != citizen_id or journey.expires_at <= now:
        return None
    return journey


def read_journey_row(session: Session, journey_id: str, citizen_id: uuid.UUID, *, now: datetime) -> Row[Any] | None:
    """The citizen's journey row as the database holds it now, not the session's copy (None once
    expired or gone): for a page that read its journey before taking SQLite's write lock and must
    see whether another request wrote it in between."""
    row = session.connection().execute(_READ, {"key": journey_id}).first()
    if row is None or row.citizen_id != citizen_id or row.expires_at <= now:
        return None
    return row


def store_journey(session: Session, journey_id: str, citizen_id: uuid.UUID, state: Mapping[str, Any], *,
                  started_at: datetime, now: datetime, lifetime: timedelta = LIFETIME) -> None:
    """Write the journey whole (a new row, or the citizen's own one replaced), to expire
    ``lifetime`` after now. A row of that id held by another citizen is refused.

    Every answered page replaces its journey: that is one UPDATE of the citizen's own row, not a
    read of the row (which the page has read already, into its own ``Journey``) and a flush."""
    values = {"state": dict(state), "updated_at": now, "expires_at": now + lifetime}
    held = session.identity_map.get(identity_key(ReportJourney, journey_id))
    if held is not None:  # loaded in this session: it would show the old answers
        session.expire(held)
    if session.connection().execute(_REPLACE, {"journey_id": journey_id, "owner": citizen_id, **values}).rowcount > 0:
        return
    if session.get(ReportJourney, journey_id) is not None:
        raise PermissionError("that journey belongs to another citizen")
    session.add(ReportJourney(id=journey_id, citizen_id=citizen_id, started_at=started_at, **values))
    session.flush()


def delete_journey(session: Session, journey_id: str, citizen_id: uuid.UUID) -> bool:
    """Forget the citizen's journey (sent, or replaced by a new one); whether there was one."""
    held = session.identity_map.get(identity_key(ReportJourney, journey_id))
    if held is not None:  # loaded in this session: it is gone from the database now
        session.expunge(held)
    result = cast(CursorResult[Any], session.connection().execute(_DELETE, {"journey_id": journey_id, "owner": citizen_id}))
    return result.rowcount > 0


def report_for_submission(session: Session, citizen_id: uuid.UUID, submission_key: str) -> uuid.UUID | None:
    """The report a journey's submission key made, if it made one: a journey sent (and deleted)
    by a request that raced this one still leads to its report."""
    return session.scalars(select(ChangeReport.id).where(
        ChangeReport.citizen_id == citizen_id, ChangeReport.submission_key == submission_key)).first()
