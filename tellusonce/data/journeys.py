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

from sqlalchemy import CursorResult, delete, select
from sqlalchemy.orm import Session

from tellusonce.models import ChangeReport, ReportJourney

LIFETIME = timedelta(hours=24)


def load_journey(session: Session, journey_id: str, citizen_id: uuid.UUID, *, now: datetime) -> ReportJourney | None:
    """The citizen's journey with this id, unless it has expired."""
    journey = session.get(ReportJourney, journey_id)
    if journey is None or journey.citizen_id != citizen_id or journey.expires_at <= now:
        return None
    return journey


def store_journey(session: Session, journey_id: str, citizen_id: uuid.UUID, state: Mapping[str, Any], *,
                  started_at: datetime, now: datetime, lifetime: timedelta = LIFETIME) -> ReportJourney:
    """Write the journey whole (a new row, or the citizen's own one replaced), to expire
    ``lifetime`` after now. A row of that id held by another citizen is refused."""
    journey = session.get(ReportJourney, journey_id)
    if journey is None:
        journey = ReportJourney(id=journey_id, citizen_id=citizen_id, started_at=started_at)
        session.add(journey)
    elif journey.citizen_id != citizen_id:
        raise PermissionError("that journey belongs to another citizen")
    journey.state = dict(state)  # a new value, so the JSON column is written
    journey.updated_at = now
    journey.expires_at = now + lifetime
    session.flush()
    return journey


def delete_journey(session: Session, journey_id: str, citizen_id: uuid.UUID) -> bool:
    """Forget the citizen's journey (sent, or replaced by a new one); whether there was one."""
    result = cast(CursorResult[Any], session.execute(
        delete(ReportJourney).where(ReportJourney.id == journey_id, ReportJourney.citizen_id == citizen_id)))
    return result.rowcount > 0


def report_for_submission(session: Session, citizen_id: uuid.UUID, submission_key: str) -> uuid.UUID | None:
    """The report a journey's submission key made, if it made one: a journey sent (and deleted)
    by a request that raced this one still leads to its report."""
    return session.scalars(select(ChangeReport.id).where(
        ChangeReport.citizen_id == citizen_id, ChangeReport.submission_key == submission_key)).first()
