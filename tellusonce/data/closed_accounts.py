"""Blanking what a closed account held, a batch at a time (the retention kind ``closed_accounts``).

A closed account (``citizen.closed_at``) is unusable from the moment it closes: it cannot be
signed in to and its address is free (``tellusonce.data.closing``). Once its period has passed,
the retention run takes it a batch at a time (``erase_step``): each batch blanks or deletes up to
``limit`` rows of one kind, first the answers of its reports, then the details of the people it
reported about, then the details sent to organisations (a notification keeps its field names,
the citizen's ledger of who was told what and when, as any blanked payload does; one still to be
delivered is never touched), then its sign-ins; and the last batch blanks the account itself and
sets ``erased_at``. Every statement repeats its condition ("still held"), so a run killed between
batches (or in the middle of one, whose transaction then never commits) leaves only whole
batches, and the next run finds what is left and finishes it. Nothing of it was visible to anyone
in between: the account was closed already.

What the law has us keep stays: the reports' references, types and dates; each notification's
state and times; the consent records and their receipts (ids, no personal details); and the audit
chain, which holds hashes, ids and counts, so it still verifies.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, delete, func, null, select, text, update
from sqlalchemy.orm import Session

from tellusonce.data.driver import changed_rows
from tellusonce.models import (
    ChangeReport,
    Citizen,
    EmailToken,
    Notification,
    NotificationState,
    PersonDetails,
    ReportJourney,
    SignInEvent,
)

# States in which a notification's delivery is over: its details may be blanked.
_FINAL = (NotificationState.DELIVERED, NotificationState.ACKNOWLEDGED, NotificationState.CANCELLED,
          NotificationState.DEAD)


@dataclass(frozen=True)
class Step:
    """What one batch did to one closed account."""

    citizen_id: uuid.UUID
    part: str  # which kind of row: reports, people, notifications, sign_ins, account
    count: int
    closed_at: datetime
    finished: bool  # the account is erased


def _held(session: Session, column: str) -> Any:  # a SQL text condition
    """The JSON object in ``column`` ("table.column") still holds a value (blanking keeps its names)."""
    if session.get_bind().dialect.name == "sqlite":
        return text(f"EXISTS (SELECT 1 FROM json_each({column}) WHERE json_each.type <> 'null')")
    return text(f"json_strip_nulls({column})::text <> '{{}}'")


def _blanked(session: Session, column: str) -> Any:  # a SQL text expression
    """The JSON object in ``column`` with the same names and every value null."""
    if session.get_bind().dialect.name == "sqlite":
        return text(f"(SELECT coalesce(json_group_object(key, NULL), '{{}}') FROM json_each({column}))")
    return text(f"(SELECT coalesce(json_object_agg(key, NULL), '{{}}'::json) FROM json_each({column}))")


_ANSWERS = "change_report.answers"
_PAYLOAD = "notification.payload"


def _due(cutoff: datetime) -> list[ColumnElement[bool]]:
    return [Citizen.closed_at.is_not(None), Citizen.closed_at < cutoff, Citizen.erased_at.is_(None)]


def next_closed_account(session: Session, *, cutoff: datetime, lock: bool = True) -> tuple[uuid.UUID, datetime] | None:
    """The closed account longest due (closed before ``cutoff``, not yet erased); locked (PostgreSQL,
    skipping one another run holds) when ``lock``."""
    query = select(Citizen.id, Citizen.closed_at).where(*_due(cutoff)).order_by(Citizen.closed_at, Citizen.id).limit(1)
    if lock:
        query = query.with_for_update(skip_locked=True, of=Citizen)
    row = session.execute(query).first()
    return None if row is None or row.closed_at is None else (row.id, row.closed_at)


def count_due(session: Session, *, cutoff: datetime) -> tuple[int, datetime | None, datetime | None]:
    count, oldest, newest = session.execute(
        select(func.count(), func.min(Citizen.closed_at), func.max(Citizen.closed_at)).where(*_due(cutoff))).one()
    return count, oldest, newest


def held_by_age(session: Session, *, boundaries: Sequence[datetime]) -> list[int]:
    """How many closed accounts are not yet erased, by how long ago they closed: newer than
    ``boundaries[0]``, then between each boundary and the next (newest first), then older than the last."""
    at = Citizen.closed_at
    buckets = [func.coalesce(func.sum(case((at >= boundaries[0], 1), else_=0)), 0)]
    for newer, older in zip(boundaries, boundaries[1:], strict=False):
        buckets.append(func.coalesce(func.sum(case((and_(at < newer, at >= older), 1), else_=0)), 0))
    buckets.append(func.coalesce(func.sum(case((at < boundaries[-1], 1), else_=0)), 0))
    row = session.execute(select(*buckets).where(Citizen.closed_at.is_not(None), Citizen.erased_at.is_(None))).one()
    return [int(value) for value in row]


def erase_step(session: Session, citizen_id: uuid.UUID, closed_at: datetime, *, limit: int, now: datetime) -> Step:
    """Blank or delete up to ``limit`` rows of the first kind the account still holds; once it holds
    none, blank the account and mark it erased."""
    def step(part: str, count: int, finished: bool = False) -> Step:
        return Step(citizen_id, part, count, closed_at, finished)

    reports = session.scalars(select(ChangeReport.id).where(ChangeReport.citizen_id == citizen_id,
                                                            _held(session, _ANSWERS))
                              .order_by(ChangeReport.id).limit(limit)).all()
    if reports:
        return step("reports", changed_rows(session.execute(
            update(ChangeReport).where(ChangeReport.id.in_(reports), _held(session, _ANSWERS))
            .values(answers=_blanked(session, _ANSWERS), declaration=null(), pending_request=null(), updated_at=now)
            .execution_options(synchronize_session=False))))
    people = session.scalars(select(PersonDetails.id).where(PersonDetails.reported_by_id == citizen_id,
                                                            PersonDetails.given_names != "")
                             .order_by(PersonDetails.id).limit(limit)).all()
    if people:
        return step("people", changed_rows(session.execute(
            update(PersonDetails).where(PersonDetails.id.in_(people), PersonDetails.given_names != "")
            .values(given_names="", family_name="", date_of_birth=None, date_of_death=None, ni_number=None,
                    address=None, relationship="", updated_at=now)
            .execution_options(synchronize_session=False))))
    held = [Notification.citizen_id == citizen_id, Notification.state.in_(_FINAL), _held(session, _PAYLOAD)]
    notifications = session.scalars(select(Notification.id).where(*held).order_by(Notification.id).limit(limit)).all()
    if notifications:
        return step("notifications", changed_rows(session.execute(
            update(Notification).where(Notification.id.in_(notifications), *held)
            .values(payload=_blanked(session, _PAYLOAD)).execution_options(synchronize_session=False))))
    sign_ins = session.scalars(select(SignInEvent.id).where(SignInEvent.citizen_id == citizen_id)
                               .order_by(SignInEvent.id).limit(limit)).all()
    if sign_ins:
        return step("sign_ins", changed_rows(session.execute(
            delete(SignInEvent).where(SignInEvent.id.in_(sign_ins)).execution_options(synchronize_session=False))))
    # Nothing else left: whatever was in progress (closing deleted it already), then the account itself.
    for table in (ReportJourney, EmailToken):
        session.execute(delete(table).where(table.citizen_id == citizen_id).execution_options(synchronize_session=False))
    erased = changed_rows(session.execute(
        update(Citizen).where(Citizen.id == citizen_id, Citizen.erased_at.is_(None))
        .values(password_hash=None, given_names=None, family_name=None, date_of_birth=None, ni_number=None,
                address_line_1=None, address_line_2=None, town=None, postcode=None, phone=None,
                email_verified_at=None, erased_at=now, updated_at=now)
        .execution_options(synchronize_session=False)))
    return step("account", erased, finished=True)
