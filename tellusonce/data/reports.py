"""The rows a report is written as: the report (once per submission key) and whose details it
gives about someone else (its notifications are the outbox's: ``tellusonce.data.outbox``); and the lookup for a report made earlier.

The intake (``tellusonce.application.intake``) is their one writer. They are written as
plain rows with Core statements (each compiled once, from SQLAlchemy's compiled cache; the
notifications in one executemany), not as ORM objects: the unit of work's bookkeeping
was most of what a submission cost, and the intake knows every value (keys included)
before it writes. The report itself is then attached to the session as a loaded object
(``attach_report``), so callers read it as before.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cache
from typing import Any, NamedTuple, cast

from sqlalchemy import Table, and_, bindparam, delete, insert, select, union_all, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, make_transient_to_detached

from tellusonce.data.driver import changed_rows
from tellusonce.models import ChangeReport, Citizen, PersonDetails, ReportState

_REPORTS = cast(Table, ChangeReport.__table__)
_PEOPLE = cast(Table, PersonDetails.__table__)


def _insert_once(dialect: Any) -> Any:
    # ON CONFLICT on uq_change_report_submission: the same submission raced us, and that one stands.
    return (dialect.insert(_REPORTS)
            .on_conflict_do_nothing(index_elements=[_REPORTS.c.citizen_id, _REPORTS.c.submission_key])
            # How many rows it inserted (0: the key was taken), kept as for an UPDATE, rather than a RETURNING to fetch.
            .execution_options(preserve_rowcount=True))


_INSERT_REPORT = {"sqlite": _insert_once(sqlite), "postgresql": _insert_once(postgresql)}
_INSERT_PERSON = insert(_PEOPLE)
_DELETE_PERSON = delete(_PEOPLE).where(_PEOPLE.c.id == bindparam("id"))


def _earlier(condition: Any) -> Any:
    # Each condition is an equality on (citizen_id, submission_key) or (citizen_id, fingerprint), which
    # the unique key and ix_change_report_fingerprint answer; the time window is judged on the few rows
    # found (given to SQL, it may lead SQLite to walk all the citizen's reports by creation time instead).
    return select(_REPORTS.c.id, _REPORTS.c.submission_key, _REPORTS.c.created_at).where(
        _REPORTS.c.citizen_id == bindparam("citizen"), condition)


@cache
def _earlier_statement(by_key: bool, by_change: bool, states: int) -> Any:
    """The read for an earlier report, built once for each shape (one parameter per state)."""
    same_key = _earlier(_REPORTS.c.submission_key == bindparam("key"))
    same_change = _earlier(and_(_REPORTS.c.fingerprint == bindparam("fingerprint"),
                                _REPORTS.c.state.in_([bindparam(f"state_{i}") for i in range(states)])))
    if by_key and by_change:
        # Two reads in one statement rather than one with OR, which SQLite may answer by walking the
        # citizen's reports.
        return union_all(same_key, same_change)
    return same_key if by_key else same_change


class Earlier(NamedTuple):
    report_id: uuid.UUID
    same_submission: bool  # made by this very submission (its key), not merely the same change


def find_earlier_report(session: Session, citizen_id: uuid.UUID, *, submission_key: str | None = None,
                        fingerprint: str | None = None, states: Sequence[str] = (),
                        since: datetime | None = None) -> Earlier | None:
    """The citizen's report made with ``submission_key``, or else their oldest report of the same
    change (``fingerprint``) in one of ``states`` made since ``since``: one indexed read."""
    if not states:
        fingerprint = None  # no state counts as the same change
    if not submission_key and not fingerprint:
        return None
    params: dict[str, Any] = {"citizen": citizen_id}
    if submission_key:
        params["key"] = submission_key
    if fingerprint:
        params["fingerprint"] = fingerprint
        params.update((f"state_{i}", str(state)) for i, state in enumerate(states))
    statement = _earlier_statement(bool(submission_key), bool(fingerprint), len(states) if fingerprint else 0)
    rows = session.connection().execute(statement, params).all()
    for id_, key, _created_at in rows:
        if submission_key and key == submission_key:
            return Earlier(id_, True)
    same = sorted((r for r in rows if since is None or r[2] >= since), key=lambda r: r[2])
    return Earlier(same[0][0], False) if same else None


def insert_report(session: Session, row: Mapping[str, Any], *, person: Mapping[str, Any] | None = None) -> bool:
    """Write a report (and the person it is about, if any); False, writing nothing, when the
    citizen already has a report with this submission key."""
    connection = session.connection()
    if person is not None:
        connection.execute(_INSERT_PERSON, person)
    inserted = changed_rows(connection.execute(_INSERT_REPORT[connection.dialect.name], row)) == 1
    if not inserted and person is not None:
        connection.execute(_DELETE_PERSON, {"id": person["id"]})
    return inserted


def attach_report(session: Session, row: Mapping[str, Any], citizen: Citizen) -> ChangeReport:
    """The report just written, as a loaded object in ``session`` (no statement: every column is known)."""
    report = ChangeReport(**row)
    report.citizen = citizen
    make_transient_to_detached(report)
    session.add(report)
    return report


def mark_cancelled(session: Session, report_id: uuid.UUID, *, states: Sequence[str], now: datetime) -> bool:
    """Cancel a report that is in one of ``states``; False when it is not (already cancelled). On
    PostgreSQL the row stays locked to the end of the transaction, so a second cancellation of the
    same report waits for this one and then finds it cancelled."""
    result = session.execute(
        update(ChangeReport)
        .where(ChangeReport.id == report_id, ChangeReport.state.in_(list(states)))
        .values(state=ReportState.CANCELLED, cancelled_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(changed_rows(result))


class ReportAnswers(NamedTuple):
    state: str
    answers: dict[str, Any]


def lock_report_answers(session: Session, report_id: uuid.UUID) -> ReportAnswers | None:
    """A report's state and answers as committed now, read to be corrected; on PostgreSQL the row
    stays locked to the end of the transaction, so a correction or cancellation of the same report
    made at the same moment waits for this one and then reads what it wrote."""
    query = select(ChangeReport.state, ChangeReport.answers).where(ChangeReport.id == report_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    row = session.execute(query).first()
    return ReportAnswers(row.state, dict(row.answers)) if row is not None else None


def write_corrected_answers(session: Session, report_id: uuid.UUID, *, answers: Mapping[str, Any],
                            effective_date: Any, fingerprint: str, now: datetime) -> None:
    """Put a report's corrected answers in place of its answers (the report is the corrected one now)."""
    session.execute(
        update(ChangeReport).where(ChangeReport.id == report_id)
        .values(answers=dict(answers), effective_date=effective_date, fingerprint=fingerprint, updated_at=now)
        .execution_options(synchronize_session=False)
    )


def write_person_details(session: Session, person_id: uuid.UUID, values: Mapping[str, Any]) -> None:
    """Put corrected details in place of those a report about someone else gave (whose, and how)."""
    session.execute(update(PersonDetails).where(PersonDetails.id == person_id).values(**values)
                    .execution_options(synchronize_session=False))
