"""Telling the citizen what became of their report: marking outcomes, and deciding the due emails.

Two use cases, each in the caller's transaction:

- ``note_outcomes`` (the worker recording attempts, the department API's acknowledgement and
  fetch) and ``note_withdrawal`` (consent withdrawn, cancelling what was queued): mark the
  reports whose notifications reached an outcome that may make an email due
  (``tellusonce.domain.notices.may_change_notice``);
- ``take_due_notices`` (the dispatcher's sweep): takes the marked reports quiet for long enough,
  asks the rule which email is due (``next_notice``), records what is now told and returns the
  emails to write as plain values. The caller queues them in the same transaction
  (``services/dispatch/notices.py``): the email and the record of it commit together.

A citizen who turned the emails off (``citizen.report_emails``) is sent nothing, but the outcomes
are recorded as told all the same: turning the emails on again does not send old news.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from tellusonce.data.notices import CopyRow, copies_of, mark_reports_changed, settle, take_due
from tellusonce.domain.notices import Copy, Notice, Told, may_change_notice, next_notice
from tellusonce.models import ChangeReport, Department, ReportState

# However busy a report stays, it is looked at this many quiet periods after its first outcome.
LONGEST_WAIT_PERIODS = 6


def note_outcomes(session: Session, outcomes: Iterable[tuple[uuid.UUID, str, str]], *, now: datetime) -> int:
    """Mark the reports of notifications that have just reached a state: ``(id, state, channel)``
    each. Only outcomes the rule counts are marked; how many reports were."""
    ids = [notification_id for notification_id, state, channel in outcomes if may_change_notice(state, channel)]
    return mark_reports_changed(session, notification_ids=ids, now=now) if ids else 0


def note_withdrawal(session: Session, receipt_id: uuid.UUID, *, now: datetime) -> int:
    """Mark the reports whose notifications under ``receipt_id`` were cancelled at ``now``."""
    if not may_change_notice("cancelled", ""):
        return 0
    return mark_reports_changed(session, receipt_id=receipt_id, cancelled_at=now, now=now)


@dataclass(frozen=True)
class Organisation:
    """An organisation as the email names it, in the citizen's language, and where to reach it."""

    name: str
    contact_url: str | None


@dataclass(frozen=True)
class DueNotice:
    """One email to queue: to whom, in which language, about which report, and what it says."""

    report_id: uuid.UUID
    reference: str
    change_type: str
    to: str
    language: str
    notice: Notice
    organisations: Mapping[str, Organisation]  # by department id


def take_due_notices(session: Session, *, now: datetime, quiet: timedelta, limit: int = 100) -> list[DueNotice]:
    """Look at the reports marked and quiet for ``quiet`` (or first marked ``LONGEST_WAIT_PERIODS``
    quiet periods ago); record what is told of each and return the emails due."""
    notices = take_due(session, now=now, quiet=quiet, longest=quiet * LONGEST_WAIT_PERIODS, limit=limit)
    if not notices:
        return []
    copies = copies_of(session, [n.report_id for n in notices])
    due: list[DueNotice] = []
    for row in notices:
        report = session.get_one(ChangeReport, row.report_id)
        notice, told = next_notice((_copy(c) for c in copies[row.report_id]), _told(row.told))
        citizen = report.citizen
        send = (notice is not None and citizen.report_emails and citizen.is_verified and not citizen.is_closed
                and report.state == ReportState.SUBMITTED)
        settle(row, told=_told_json(told), emailed_at=now if send else None)
        if send and notice is not None:
            due.append(DueNotice(report.id, report.reference, report.change_type, citizen.email, citizen.language,
                                 notice, _organisations(session, copies[row.report_id], citizen.language)))
    session.flush()
    return due


def _copy(row: CopyRow) -> Copy:
    return Copy(str(row.notification_id), row.department_id, row.state, row.channel,
                row.dead_at.isoformat() if row.dead_at else None)


def _told(stored: Mapping[str, object]) -> Told:
    failures = stored.get("failures") or []
    return Told(all_received=bool(stored.get("all_received")), others_received=bool(stored.get("others_received")),
                failures=frozenset(str(f) for f in failures) if isinstance(failures, list) else frozenset())


def _told_json(told: Told) -> dict[str, object]:
    return {"all_received": told.all_received, "others_received": told.others_received,
            "failures": sorted(told.failures)}


def _organisations(session: Session, copies: Iterable[CopyRow], language: str) -> dict[str, Organisation]:
    found: dict[str, Organisation] = {}
    for c in copies:
        department = session.get(Department, c.department_id)
        if department is not None and c.department_id not in found:
            found[c.department_id] = Organisation(department.name_in(language), department.contact_url)
    return found
