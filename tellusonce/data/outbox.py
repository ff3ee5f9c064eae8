"""The outbox: how dispatchers claim notifications and record what happened.

The one home of the outbox state machine. Claims are leases: a worker claims due
rows in one statement (``UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED)
RETURNING …`` on PostgreSQL, so many workers on many machines share the work; on
SQLite the one writer lock does the same), and every later change to a claimed
row is conditional on the claim still being that worker's: a result that arrives
after the lease passed to another worker changes nothing but the attempt log
(outcome ``lease_lost``) and says so. The one exception is a *delivered* result
for a notification its department has already acknowledged: the delivery stands.

Claims and records are batches of plain values (no ORM object per row): that is
most of what a worker costs per notification.
"""

from __future__ import annotations

import os
import uuid
import zlib
from bisect import bisect_left
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from functools import cache
from typing import Any, NamedTuple, cast

from sqlalchemy import ColumnElement, Connection, Table, and_, bindparam, case, insert, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from tellusonce.data.audit import record_event
from tellusonce.data.driver import Driver, changed_rows, driver_for
from tellusonce.data.retention import payload_held
from tellusonce.data.stats import LATENCY_BUCKETS
from tellusonce.models import (
    AttemptOutcome,
    ChannelKind,
    DeliveryAttempt,
    Department,
    Notification,
    NotificationKind,
    NotificationState,
    ReportState,
)
from tellusonce.models.outbox import CLAIMABLE_SQL, DEAD_SQL, IN_ORDER_SQL

PUSH_CHANNELS = (ChannelKind.WEBHOOK, ChannelKind.EMAIL)
_N = cast(Table, Notification.__table__)
_INSERT_NOTIFICATIONS = insert(_N)
# A list of notification ids bound as one parameter: no expression built per id.
_IDS = bindparam("ids", expanding=True, type_=_N.c.id.type)


def insert_notifications(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Queue notifications (``pending``, with their payloads already minimised): one statement.
    A follow-up (a cancellation, a correction) is a row like any other, with its ``kind``,
    ``original_id`` and ``after_id`` (``chain_tails``)."""
    if rows:
        session.connection().execute(_INSERT_NOTIFICATIONS, rows)


# Queued and in no worker's hands: what withdrawing consent or cancelling a report cancels at once.
# (A notification being delivered is left to finish; the worker's check before sending catches the rest.)
CANCELLABLE = (NotificationState.PENDING, NotificationState.RETRYING)


def cancel_queued(session: Session, *conditions: ColumnElement[bool], now: datetime,
                  reason: str) -> list[tuple[uuid.UUID, str]]:
    """Cancel the notifications matching ``conditions`` that are still queued (``CANCELLABLE``);
    the (id, department id) of each one cancelled. A notification claimed meanwhile is not one of
    them: it is on its way, and the worker checks consent and the report again before sending."""
    session.flush()
    rows = session.execute(
        update(Notification)
        .where(*conditions, Notification.state.in_(CANCELLABLE))
        .values(state=NotificationState.CANCELLED, cancelled_at=now, next_attempt_at=None, last_error=reason,
                updated_at=now)
        .returning(Notification.id, Notification.department_id)
        .execution_options(synchronize_session=False)
    )
    return [(row.id, row.department_id) for row in rows]


def chain_tails(session: Session, report_id: uuid.UUID) -> dict[str, uuid.UUID]:
    """For each department told of a report, its last notification: the one a new follow-up waits
    for (``after_id``), so that per report and department they are delivered in order."""
    rows = session.execute(select(Notification.id, Notification.department_id, Notification.after_id)
                           .where(Notification.report_id == report_id)).all()
    waited_for = {row.after_id for row in rows}
    return {row.department_id: row.id for row in rows if row.id not in waited_for}


def department_open(now: Any, channels: Sequence[Any]) -> ColumnElement[bool]:
    """The one rule for a department that may be sent to at ``now``: active, on one of
    ``channels``, its endpoint not disabled (410) and its circuit not open. The claim
    statement embeds it as SQL (``_claim_statement``); ``open_department_ids`` reads it."""
    return and_(
        Department.active.is_(True),
        Department.channel.in_(list(channels)),
        Department.endpoint_disabled_at.is_(None),
        or_(Department.circuit_open_until.is_(None), Department.circuit_open_until <= now),
    )


def open_department_ids(session: Session, *, now: datetime, channels: Sequence[str] = PUSH_CHANNELS) -> set[str]:
    """The departments that may be sent to at ``now`` (``department_open``)."""
    return set(session.scalars(select(Department.id).where(department_open(now, channels))))


# -- claiming ---------------------------------------------------------------------------


class Claimed(NamedTuple):
    """What a worker needs of a claimed notification, read as a plain row."""

    id: uuid.UUID
    report_reference: str  # the report's reference: the event's subject
    department_id: str
    change_type: str
    payload: str  # the JSON text as stored: the event takes it as it is (``build_event``)
    consent_receipt_id: uuid.UUID
    created_at: datetime
    lease_expires_at: datetime
    kind: str = NotificationKind.CHANGE  # a NotificationKind: which event it is
    report_state: str = ReportState.SUBMITTED  # the report's state when claimed (cancelled: not sent)


def claim_due(
    session: Session,
    *,
    worker: str,
    limit: int,
    lease: timedelta,
    now: datetime,
    department_ids: Sequence[str] | None = None,
    per_department: int | Mapping[str, int] | None = None,
    channels: Sequence[str] = PUSH_CHANNELS,
) -> list[Claimed]:
    """Claim up to ``limit`` due notifications for ``worker`` until ``now + lease``, in one statement.

    Departments that are inactive, disabled (410) or whose circuit is open are
    skipped. ``per_department`` caps how many one department may take of the
    batch (one number for all, or a share per department id; a department absent
    from the mapping takes none; none given: up to ``limit`` each), so a department
    with a large backlog cannot crowd the others out: the batch takes each
    department's oldest first, then each one's second oldest, and so on.
    """
    if not isinstance(per_department, Mapping):
        everyone = department_ids if department_ids is not None else sorted(
            open_department_ids(session, now=now, channels=channels))
        per_department = dict.fromkeys(everyone, per_department or limit)
    elif department_ids is not None:
        named = set(department_ids)
        per_department = {d: n for d, n in per_department.items() if d in named}
    shares = sorted((d, min(n, limit)) for d, n in per_department.items() if n > 0)
    if limit <= 0 or not shares:
        return []
    connection = session.connection()
    driver = driver_for(connection)
    until = now + lease
    parameters: dict[str, Any] = {"worker": worker, "now": driver.time(now), "until": driver.time(until),
                                  "limit": limit, **{f"channel{i}": str(c) for i, c in enumerate(channels)}}
    for i, (department_id, share) in enumerate(shares):
        parameters[f"department{i}"] = department_id
        parameters[f"share{i}"] = share
    statement = _claim_statement(driver, len(shares), len(channels), ranked=sum(n for _, n in shares) > limit)
    rows = driver.execute(connection, statement, parameters)
    claimed = [Claimed(driver.read_uuid(id_), reference, department_id, change_type, payload,
                       driver.read_uuid(receipt_id), driver.read_time(created_at), until, kind, report_state)
               for id_, reference, department_id, change_type, payload, receipt_id, created_at, kind, report_state
               in rows]
    claimed.sort(key=lambda c: c.created_at)  # oldest first into the senders' lanes
    return claimed


@cache
def _claim_statement(driver: Driver, departments: int, channels: int, *, ranked: bool) -> str:
    """The claim for ``departments`` shares: each department's oldest due notifications up to
    its share (one range of ``ix_notification_claimable`` each, read in order, locked there
    with SKIP LOCKED on PostgreSQL), each only once the one before it for its report is no
    longer claimable (``IN_ORDER_SQL``: a cancellation never overtakes its original); when
    they come to more than the limit, each one's oldest first, then second, …; every one
    claimed until the lease ends (``next_attempt_at`` too: when the lease runs out the row is
    due again, for any worker)."""
    lock = "" if driver.is_sqlite else " FOR UPDATE SKIP LOCKED"
    parts = " UNION ALL ".join(
        f"SELECT * FROM (SELECT id, department_id, next_attempt_at FROM notification"
        f" WHERE department_id = :department{i} AND {CLAIMABLE_SQL} AND next_attempt_at <= :now AND {IN_ORDER_SQL}"
        f" ORDER BY next_attempt_at LIMIT :share{i}{lock}) AS part{i}"
        for i in range(departments))
    chosen = (f"SELECT id FROM (SELECT id, next_attempt_at, row_number() OVER"
              f" (PARTITION BY department_id ORDER BY next_attempt_at) AS turn FROM ({parts}) AS candidates)"
              f" AS ranked ORDER BY turn, next_attempt_at LIMIT :limit") if ranked else \
        f"SELECT id FROM ({parts}) AS candidates"
    dialect = (sqlite if driver.is_sqlite else postgresql).dialect(paramstyle="named")
    is_open = department_open(bindparam("now"), [bindparam(f"channel{i}") for i in range(channels)]).compile(dialect=dialect)
    return driver.sql(
        f"UPDATE notification SET state = '{NotificationState.DELIVERING}', claimed_by = :worker,"
        f" lease_expires_at = :until, next_attempt_at = :until, updated_at = :now"
        f" WHERE id IN ({chosen}) AND department_id IN (SELECT id FROM department WHERE {is_open})"
        f" RETURNING id, (SELECT reference FROM change_report WHERE change_report.id = notification.report_id),"
        f" department_id, change_type, {'payload' if driver.is_sqlite else 'payload::text'}, consent_receipt_id,"
        f" created_at, kind, (SELECT state FROM change_report WHERE change_report.id = notification.report_id)"
    )


# -- recording --------------------------------------------------------------------------


class AttemptRecord(NamedTuple):
    """One delivery attempt's result, as the worker hands it over to be recorded: plain values,
    made thousands of times a second and cheap to pass to the worker's database process."""

    notification_id: uuid.UUID
    department_id: str
    outcome: str  # an AttemptOutcome
    started_at: datetime
    finished_at: datetime
    status_code: int | None = None
    latency_ms: int | None = None
    error: str | None = None
    retry_after: float | None = None  # seconds the department asked us to wait (Retry-After)


AttemptResult = tuple[bool, int, datetime | None]  # (the result stood, attempt number, next attempt if retried)
# A retry's next attempt from its number (``attempt_count`` + 1) and the department's Retry-After,
# or None when no attempt is left.
RetrySchedule = Callable[[int, float | None], datetime | None]


def record_attempts(session: Session, records: Sequence[AttemptRecord], *, worker: str, now: datetime,
                    schedule: RetrySchedule | None = None) -> dict[uuid.UUID, AttemptResult]:
    """Record delivery attempts and move each notification on; one entry per notification.

    A retry is scheduled by ``schedule``; without one, or when it answers None, the
    notification is dead.

    Deliveries whose claim ``worker`` still holds move on in one
    ``UPDATE … RETURNING`` (the common case); the rest are read once (locked on
    PostgreSQL) and moved on with one executemany; every attempt is logged with
    one executemany INSERT. A result whose claim has passed to another worker
    changes nothing but the log, where its outcome is ``lease_lost``; except a
    delivery of a notification its department has already acknowledged, which
    stands (the notification is already past it).
    """
    if not records:
        return {}
    connection = session.connection()
    driver = driver_for(connection)
    keys = [driver.uuid(r.notification_id) for r in records]  # each id in the driver's form, once
    numbers: dict[Any, int] = {}  # by key: the deliveries that stood, and their attempt numbers
    delivered = [key for key, r in zip(keys, records, strict=True) if r.outcome == AttemptOutcome.DELIVERED]
    if delivered:
        numbers = dict(driver.execute(connection, _delivered_statement(driver), {
            "ids": driver.ids(delivered), "worker": worker, "now": driver.time(now)}))
    rest = [r.notification_id for key, r in zip(keys, records, strict=True) if key not in numbers]
    rows: dict[uuid.UUID, Any] = {}
    if rest:
        # Looked up by key alone (the claim is checked below): an index on state would tempt the planner.
        query = select(_N.c.id, _N.c.attempt_count, _N.c.department_id, _N.c.claimed_by, _N.c.state).where(
            _N.c.id.in_(_IDS))
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update()
        rows = {row.id: row for row in session.execute(query, {"ids": rest})}
    updates: list[dict[str, Any]] = []
    attempts: list[dict[str, Any]] = []
    outcome_of: dict[uuid.UUID, AttemptResult] = {}
    dead: list[tuple[uuid.UUID, str, AttemptRecord]] = []
    random = os.urandom(16 * len(records))  # the attempts' ids: one system call, not one each
    for i, (key, r) in enumerate(zip(keys, records, strict=True)):
        next_at = None
        if key in numbers:
            stands, number = True, numbers[key]
        else:
            row = rows.get(r.notification_id)
            number = (row.attempt_count if row is not None else 0) + 1
            held = row is not None and row.claimed_by == worker and row.state == NotificationState.DELIVERING
            # Not held here means a delivery can only stand if the department acknowledged it already.
            stands = (held and r.outcome != AttemptOutcome.DELIVERED) or (
                row is not None and r.outcome == AttemptOutcome.DELIVERED
                and row.state == NotificationState.ACKNOWLEDGED)
            if held and row is not None and r.outcome != AttemptOutcome.DELIVERED:
                values = _transition(r, number, now, schedule)
                next_at = values["next_attempt_at"]
                updates.append({"b_id": r.notification_id, **values})
                if values["state"] == NotificationState.DEAD:
                    dead.append((r.notification_id, row.department_id, r))
        attempts.append({
            "id": driver.uuid(uuid.UUID(bytes=random[16 * i:16 * i + 16], version=4)),
            "notification_id": key, "number": number, "worker": worker,
            "started_at": driver.time(r.started_at), "finished_at": driver.time(r.finished_at),
            "outcome": str(r.outcome if stands else AttemptOutcome.LEASE_LOST),
            "status_code": r.status_code, "latency_ms": r.latency_ms,
            "error": r.error if stands else f"result '{r.outcome}' arrived after the claim was lost; ignored",
        })
        outcome_of[r.notification_id] = (stands, number, next_at)
    if updates:
        connection.execute(update(_N).where(_N.c.id == bindparam("b_id")), updates)
    driver.insert_rows(connection, cast(Table, DeliveryAttempt.__table__), attempts)
    _tally(connection, driver, attempts, worker=worker)
    for notification_id, department_id, r in dead:
        record_event(session, actor=f"worker:{worker}", action="notification.dead", subject_type="notification",
                     subject_id=notification_id, details={"department": department_id, "outcome": r.outcome,
                                                          "status_code": r.status_code}, at=now)
    return outcome_of


@cache
def _delivered_statement(driver: Driver) -> str:
    """Deliveries whose claim the worker still holds: delivered, in one statement."""
    return driver.sql(
        f"UPDATE notification SET state = '{NotificationState.DELIVERED}', delivered_at = :now,"
        f" attempt_count = attempt_count + 1, claimed_by = NULL, lease_expires_at = NULL,"
        f" next_attempt_at = NULL, last_error = NULL, updated_at = :now"
        f" WHERE {driver.in_ids('id', 'ids')} AND claimed_by = :worker"
        f" AND state = '{NotificationState.DELIVERING}' RETURNING id, attempt_count"
    )


TALLY_SHARDS = 8
_BUCKET_MS = [int(seconds * 1000) for seconds in LATENCY_BUCKETS]


def _tally(connection: Connection, driver: Driver, attempts: Sequence[Mapping[str, Any]], *, worker: str) -> None:
    """Add the attempts to the running totals /metrics reads (``DeliveryTally``)."""
    totals: dict[tuple[str, int], list[int]] = {}
    for attempt in attempts:
        latency = attempt["latency_ms"]
        bucket = -1 if latency is None else bisect_left(_BUCKET_MS, latency)
        entry = totals.setdefault((attempt["outcome"], bucket), [0, 0])
        entry[0] += 1
        entry[1] += latency or 0
    shard = zlib.crc32(worker.encode()) % TALLY_SHARDS
    driver.execute(connection, _tally_statement(driver), many=True, parameters=[
        {"shard": shard, "outcome": outcome, "bucket": bucket, "attempts": n, "latency_ms": total}
        for (outcome, bucket), (n, total) in sorted(totals.items())])  # sorted: rows locked in one order


@cache
def _tally_statement(driver: Driver) -> str:
    return driver.sql(
        "INSERT INTO delivery_tally (shard, outcome, bucket, attempts, latency_ms)"
        " VALUES (:shard, :outcome, :bucket, :attempts, :latency_ms)"
        " ON CONFLICT (shard, outcome, bucket) DO UPDATE SET attempts = delivery_tally.attempts + excluded.attempts,"
        " latency_ms = delivery_tally.latency_ms + excluded.latency_ms"
    )


def _transition(r: AttemptRecord, number: int, now: datetime, schedule: RetrySchedule | None) -> dict[str, Any]:
    """Where a failed or cancelled attempt leaves a notification whose claim was held."""
    values: dict[str, Any] = {
        "claimed_by": None, "lease_expires_at": None, "attempt_count": number, "updated_at": now,
        "state": NotificationState.DEAD, "dead_at": now, "next_attempt_at": None, "last_error": r.error,
        "cancelled_at": None,
    }
    if r.outcome == AttemptOutcome.RETRY and schedule is not None:
        next_at = schedule(number, r.retry_after)
        if next_at is not None:
            values.update(state=NotificationState.RETRYING, next_attempt_at=next_at, dead_at=None)
            return values
    if r.outcome == AttemptOutcome.CANCELLED:
        values.update(state=NotificationState.CANCELLED, cancelled_at=now, dead_at=None)
    return values


def release_claims(session: Session, *, worker: str, now: datetime) -> int:
    """Give back every claim ``worker`` holds (on shutdown), due at once for another worker."""
    return changed_rows(session.execute(
        update(Notification)
        .where(Notification.claimed_by == worker, Notification.state == NotificationState.DELIVERING)
        .values(
            state=case((Notification.attempt_count == 0, NotificationState.PENDING), else_=NotificationState.RETRYING),
            claimed_by=None, lease_expires_at=None, next_attempt_at=now,
        )
        .execution_options(synchronize_session=False)
    ))


def acknowledge(session: Session, *, department_id: str, notification_id: uuid.UUID, now: datetime) -> Notification | None:
    """A department says it has the notification. Only its own; another's is not found."""
    notification = session.scalar(
        select(Notification).where(Notification.id == notification_id, Notification.department_id == department_id)
    )
    if notification is None:
        return None
    if notification.state != NotificationState.ACKNOWLEDGED:
        notification.state = NotificationState.ACKNOWLEDGED
        notification.acknowledged_at = now
        notification.delivered_at = notification.delivered_at or now
        notification.next_attempt_at = None
        notification.claimed_by = None
        notification.lease_expires_at = None
        record_event(session, actor=f"department:{department_id}", action="notification.acknowledged",
                     subject_type="notification", subject_id=notification.id, details={}, at=now)
        session.flush()
    return notification


def _dead(department_id: str | None, since: datetime | None, notification_id: uuid.UUID | None) -> list[Any]:
    conditions: list[Any] = [text(DEAD_SQL)]  # written out: the partial index's own condition
    if department_id:
        conditions.append(Notification.department_id == department_id)
    if since:
        conditions.append(Notification.dead_at >= since)
    if notification_id:
        conditions.append(Notification.id == notification_id)
    return conditions


def dead_letters(session: Session, *, department_id: str | None = None, since: datetime | None = None,
                 notification_id: uuid.UUID | None = None, limit: int | None = 500,
                 replayable: bool = False) -> Sequence[Notification]:
    """Dead letters, oldest first; with ``replayable``, only those whose details are still held
    (what ``replay_dead`` would queue again)."""
    query = select(Notification).where(*_dead(department_id, since, notification_id))
    if replayable:
        query = query.where(payload_held(session))
    return session.scalars(query.order_by(Notification.dead_at).limit(limit)).all()


def replay_dead(session: Session, *, department_id: str | None = None, since: datetime | None = None,
                notification_id: uuid.UUID | None = None, now: datetime, actor: str = "operator") -> int:
    """Put dead letters back in the queue, due now, with a fresh retry schedule. A dead letter
    whose details the retention schedule has removed stays dead: there is nothing left to send."""
    count = changed_rows(session.execute(
        update(Notification)
        .where(*_dead(department_id, since, notification_id), payload_held(session))
        .values(state=NotificationState.PENDING, next_attempt_at=now, dead_at=None, attempt_count=0)
        .execution_options(synchronize_session=False)
    ))
    details: dict[str, Any] = {"count": count, "since": since}
    if notification_id:
        details["notification"] = str(notification_id)
    record_event(session, actor=actor, action="dead_letters.replayed", subject_type="department",
                 subject_id=department_id or "*", details=details, at=now)
    return count


def notifications_for_department(session: Session, department_id: str, *, after: uuid.UUID | None = None,
                                 limit: int = 100) -> list[Notification]:
    """A department's feed, oldest first, continuing after the notification ``after``."""
    query = select(Notification).where(
        Notification.department_id == department_id,
        Notification.state != NotificationState.CANCELLED,
    )
    if after is not None:
        cursor = session.scalar(
            select(Notification).where(Notification.id == after, Notification.department_id == department_id)
        )
        if cursor is not None:
            query = query.where(
                or_(Notification.created_at > cursor.created_at,
                    and_(Notification.created_at == cursor.created_at, Notification.id > cursor.id))
            )
    return list(session.scalars(query.order_by(Notification.created_at, Notification.id).limit(limit)))


def get_for_department(session: Session, department_id: str, notification_id: uuid.UUID) -> Notification | None:
    return session.scalar(
        select(Notification).where(Notification.id == notification_id, Notification.department_id == department_id)
    )
