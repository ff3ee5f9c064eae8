"""Report notices: marking a report to be looked at again, and the sweep's reads and writes.

A mark is written in the transaction that moved a notification on, so a report is looked at
exactly when something happened to it. The sweep takes the rows that have been quiet for long
enough, locked (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so two dispatchers never take the same
report; SQLite's one write lock does the same), and clears them in the transaction that queues
the email: one email, never two, and none lost if it fails.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from tellusonce.models import Department, Notification, ReportNotice


def mark_reports_changed(session: Session, *, now: datetime, notification_ids: Iterable[uuid.UUID] = (),
                         receipt_id: uuid.UUID | None = None, cancelled_at: datetime | None = None) -> int:
    """Mark the reports of these notifications (or of those cancelled under ``receipt_id`` at
    ``cancelled_at``) as changed at ``now``; how many reports. Flushes first, so that the
    caller's own changes are read."""
    query = select(Notification.report_id).distinct()
    ids = list(notification_ids)
    if receipt_id is not None:
        query = query.where(Notification.consent_receipt_id == receipt_id, Notification.cancelled_at == cancelled_at)
    elif ids:
        query = query.where(Notification.id.in_(ids))
    else:
        return 0
    session.flush()
    reports = sorted(session.scalars(query))  # in one order: two writers lock the rows alike
    if not reports:
        return 0
    rows = [{"report_id": report_id, "changed_at": now, "first_changed_at": now} for report_id in reports]
    insert = (postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert)(ReportNotice)
    statement = insert.values(rows).on_conflict_do_update(
        index_elements=[ReportNotice.report_id],
        set_={"changed_at": insert.excluded.changed_at,
              "first_changed_at": func.coalesce(ReportNotice.first_changed_at, insert.excluded.first_changed_at)},
    )
    session.execute(statement)
    return len(reports)


def take_due(session: Session, *, now: datetime, quiet: timedelta, longest: timedelta,
             limit: int = 100) -> list[ReportNotice]:
    """The marked reports due a look at ``now`` (quiet for ``quiet`` since their last change, or
    first changed ``longest`` ago), oldest first, locked for this transaction; another
    transaction's locked rows are skipped."""
    query = (
        select(ReportNotice)
        .where(ReportNotice.changed_at.is_not(None),
               or_(ReportNotice.changed_at <= now - quiet, ReportNotice.first_changed_at <= now - longest))
        .order_by(ReportNotice.changed_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(session.scalars(query))


class CopyRow(NamedTuple):
    """One notification of a report, with its department's channel: what the notice rule reads."""

    report_id: uuid.UUID
    notification_id: uuid.UUID
    department_id: str
    state: str
    channel: str
    dead_at: datetime | None


def copies_of(session: Session, report_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[CopyRow]]:
    """Every notification of these reports, by report."""
    found: dict[uuid.UUID, list[CopyRow]] = {report_id: [] for report_id in report_ids}
    if not report_ids:
        return found
    rows = session.execute(
        select(Notification.report_id, Notification.id, Notification.department_id, Notification.state,
               Department.channel, Notification.dead_at)
        .join(Department, Department.id == Notification.department_id)
        .where(Notification.report_id.in_(list(report_ids)))
    )
    for row in rows:
        found[row[0]].append(CopyRow(*row))
    return found


def settle(notice: ReportNotice, *, told: dict[str, Any], emailed_at: datetime | None) -> None:
    """The sweep has looked at ``notice``: what is now told, and when it emailed (None: it did not)."""
    notice.changed_at = None
    notice.first_changed_at = None
    notice.told = told
    if emailed_at is not None:
        notice.emailed_at = emailed_at


def get_notice(session: Session, report_id: uuid.UUID) -> ReportNotice | None:
    return session.get(ReportNotice, report_id)
