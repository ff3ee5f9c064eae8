"""The outbox: one notification per department told, and every attempt to deliver it."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tellusonce.models.base import Base, Timestamped, UUIDKey
from tellusonce.models.department import Department
from tellusonce.models.report import ChangeReport


class NotificationState(StrEnum):
    PENDING = "pending"
    DELIVERING = "delivering"
    RETRYING = "retrying"
    DELIVERED = "delivered"
    ACKNOWLEDGED = "acknowledged"
    DEAD = "dead"
    CANCELLED = "cancelled"


class NotificationKind(StrEnum):
    """What a notification tells its organisation: the change itself, or a later word about it."""

    CHANGE = "change"  # the report's first notification to an organisation: the change
    CANCELLATION = "cancellation"  # the citizen cancelled the report that ``original_id`` told of
    CORRECTION = "correction"  # the citizen corrected it (issue 18; not yet written by anything)
    # The citizen closed their account and asked for the organisations told to be told (UK GDPR
    # Art. 19): one per organisation, on its last report, naming only what it was sent already.
    ACCOUNT_CLOSED = "account_closed"


# States a worker may claim (when due): still to be delivered. Every other state is final for
# delivery (delivered, acknowledged, dead, cancelled).
CLAIMABLE = (NotificationState.PENDING, NotificationState.RETRYING, NotificationState.DELIVERING)


def claimable_sql(table: str = "") -> str:
    """The claimable condition as SQL with its values written out, on ``table``'s row (the one
    named in the query when not given): a query can use the partial index below only when it
    repeats the index's own condition, which a bound parameter does not. Comparisons joined by
    OR, not IN: for every row written, SQLite tests the condition on the old and the new row,
    and an IN list there is an ephemeral table built and cleared each time."""
    column = f"{table}.state" if table else "state"
    return "(" + " OR ".join(f"{column} = '{state.value}'" for state in CLAIMABLE) + ")"


CLAIMABLE_SQL = claimable_sql()
# In order: per report and department, a notification waits for the one before it (``after_id``)
# until that one is no longer claimable, that is delivered, acknowledged, dead or cancelled. The
# claim adds it to the claimable condition (it cannot be part of a partial index: a subquery).
# A final state never becomes claimable again but by an operator's replay of a dead letter, so
# a claim that reads the one before as final is right whatever else commits meanwhile.
IN_ORDER_SQL = ("(after_id IS NULL OR NOT EXISTS (SELECT 1 FROM notification AS earlier"
                f" WHERE earlier.id = notification.after_id AND {claimable_sql('earlier')}))")
DEAD_SQL = f"state = '{NotificationState.DEAD.value}'"


class Notification(UUIDKey, Timestamped, Base):
    """The id is the CloudEvent id and the webhook-id: stable across retries."""

    __tablename__ = "notification"
    __table_args__ = (
        # A department's share of a claim: WHERE department_id = ? AND <claimable> AND
        # next_attempt_at <= now ORDER BY next_attempt_at LIMIT n, read in order from the index.
        # A claim moves next_attempt_at to the end of its lease, so one range holds everything
        # due, pending, retrying or abandoned; and only work still to do is in it: a million
        # delivered rows cost a claim nothing.
        Index("ix_notification_claimable", "department_id", "next_attempt_at",
              sqlite_where=text(CLAIMABLE_SQL), postgresql_where=text(CLAIMABLE_SQL)),
        # Dead letters, by department and when they died (tellusonce dead-letters list|replay).
        # Partial, so that the hot path, where every row changes state twice (claimed,
        # delivered) and so is written into every index, does not write here. (/metrics,
        # which counts every row by department and state, reads the table instead.)
        Index("ix_notification_dead_letters", "department_id", "dead_at",
              sqlite_where=text(DEAD_SQL), postgresql_where=text(DEAD_SQL)),
        # The department feed: WHERE department_id = ? ORDER BY created_at, id.
        Index("ix_notification_department_feed", "department_id", "created_at", "id"),
    )

    report_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("change_report.id"), index=True)
    citizen_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("citizen.id"), index=True)
    department_id: Mapped[str] = mapped_column(ForeignKey("department.id"))
    change_type: Mapped[str] = mapped_column(String(20))
    # A NotificationKind. A follow-up (a cancellation, a correction) names the report's first
    # notification to the department (``original_id``) and waits for the one before it
    # (``after_id``: IN_ORDER_SQL). Not foreign keys: see migration 0010.
    kind: Mapped[str] = mapped_column(String(20), default=NotificationKind.CHANGE,
                                      server_default=NotificationKind.CHANGE.value)
    original_id: Mapped[uuid.UUID | None]
    after_id: Mapped[uuid.UUID | None]
    state: Mapped[str] = mapped_column(String(20), default=NotificationState.PENDING)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    consent_receipt_id: Mapped[uuid.UUID]
    attempt_count: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    # When the citizen asked for it to be sent "on the date": the moment it is due, as planned
    # (``next_attempt_at`` starts there and moves on with retries). None: sent as soon as queued.
    planned_for: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    acknowledged_at: Mapped[datetime | None]
    dead_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)

    report: Mapped[ChangeReport] = relationship()
    department: Mapped[Department] = relationship()


class AttemptOutcome(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"  # a failure worth trying again: network, timeout, 5xx, 429
    PERMANENT = "permanent"  # a 4xx the department will not change its mind about
    GONE = "gone"  # 410: the endpoint is gone; the department is disabled
    CANCELLED = "cancelled"  # consent withdrawn when the worker checked again
    LEASE_LOST = "lease_lost"  # a result arrived after another worker took over


class DeliveryAttempt(UUIDKey, Base):
    __tablename__ = "delivery_attempt"

    notification_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("notification.id"), index=True)
    number: Mapped[int]
    worker: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime]
    outcome: Mapped[str] = mapped_column(String(20))
    status_code: Mapped[int | None]
    latency_ms: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(Text)


class DeliveryTally(Base):
    """Running totals of delivery attempts, for /metrics: counted as attempts are recorded (in
    the same transaction), so a scrape reads a few dozen rows, not every attempt ever made.

    ``bucket`` is the latency bucket (an index into ``tellusonce.data.stats.LATENCY_BUCKETS``,
    its length for slower than the last, -1 for attempts that never reached the network).
    Each worker adds to the rows of its ``shard`` (from its name), so workers recording at
    the same time on PostgreSQL seldom wait for each other's rows.
    """

    __tablename__ = "delivery_tally"

    shard: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    outcome: Mapped[str] = mapped_column(String(20), primary_key=True)
    bucket: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    attempts: Mapped[int] = mapped_column(BigInteger)
    latency_ms: Mapped[int] = mapped_column(BigInteger)
