"""What the retention schedule removes, kind by kind: find what has been kept long enough, then
delete it or blank its personal fields (``tellusonce.domain.retention`` says how long and which).

Every kind is read in key order from a position (``after``), a batch at a time, so a run reads
each row once however many it has already dealt with. On PostgreSQL the rows found are locked
``FOR UPDATE SKIP LOCKED``: two hosts running at once take different rows, and a row already
taken is skipped, not waited for. On SQLite the batch's transaction holds the one write lock.
The removing statements repeat every condition (a waiting notification is never touched, a
blanked row is not blanked twice) and, like every data function, flush and never commit.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Table,
    and_,
    bindparam,
    case,
    delete,
    exists,
    func,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session

from tellusonce.data.audit import ADVISORY_LOCK_CLASS
from tellusonce.data.driver import changed_rows
from tellusonce.models import (
    AuditEvent,
    ChangeReport,
    DataRightsRequest,
    DeliveryAttempt,
    EmailToken,
    InboundMessage,
    InboundStatus,
    Notification,
    NotificationState,
    OutgoingEmail,
    OutgoingState,
    ReportJourney,
    ReportNotice,
    RequestState,
    SignInEvent,
)
from tellusonce.models.outbox import CLAIMABLE, CLAIMABLE_SQL

HASHED = "sha256:"  # an address replaced by its hash starts so


def hashed(value: str | None) -> str | None:
    """An address as a blanked row keeps it: its SHA-256, lower-cased first, so the same address
    still matches itself (counting, a duplicate) and nothing more."""
    if value is None:
        return None
    return HASHED + hashlib.sha256(value.strip().lower().encode()).hexdigest()


def _payload_held(session: Session) -> Any:  # a SQL text condition
    """A notification's payload still holds a value (blanking keeps its field names, every value null)."""
    if session.get_bind().dialect.name == "sqlite":
        return text("EXISTS (SELECT 1 FROM json_each(notification.payload) WHERE json_each.type <> 'null')")
    return text("json_strip_nulls(notification.payload)::text <> '{}'")


def _payload_blanked(session: Session) -> Any:  # a SQL text expression
    """The payload with the same field names and every value null (a citizen's ledger still says which)."""
    if session.get_bind().dialect.name == "sqlite":
        return text("(SELECT coalesce(json_group_object(key, NULL), '{}') FROM json_each(notification.payload))")
    return text("(SELECT coalesce(json_object_agg(key, NULL), '{}'::json) FROM json_each(notification.payload))")


def payload_held(session: Session) -> Any:
    """For others (replaying a dead letter): the notification still has its details."""
    return _payload_held(session)


@dataclass(frozen=True)
class Found:
    """A batch of rows found: their keys, the span of their times, and where the next batch starts."""

    keys: list[Any]
    oldest: datetime | None
    newest: datetime | None
    after: Any  # the position to go on from
    done: bool  # nothing after ``after`` is left to look at


@dataclass(frozen=True)
class _Kind:
    table: Any  # the model
    at: Callable[[], Any]  # (a column or an expression of columns) the time a row's period is counted from
    eligible: Callable[[Session], list[ColumnElement[bool]]]  # may be removed at all (a final state …)
    blank: Callable[[Session, Sequence[Any]], int] | None = None  # empties the personal fields of these rows

    @property
    def key(self) -> Any:
        return inspect(self.table).primary_key[0]


def _blank_inbound(session: Session, keys: Sequence[Any]) -> int:
    rows = session.execute(select(InboundMessage.id, InboundMessage.mail_from, InboundMessage.from_address)
                           .where(InboundMessage.id.in_(keys))).all()
    table: Table = InboundMessage.__table__  # type: ignore[assignment]  # a declarative model's table
    statement = (update(table).where(table.c.id == bindparam("key"), func.length(table.c.raw) > 0)
                 .values(raw=b"", mail_from=bindparam("sender"), from_address=bindparam("author"), rcpt_tos=[],
                         helo=None, peer="", subject=None, message_id=None, authentication=None))
    if rows:
        session.execute(statement, [{"key": key, "sender": hashed(sender) or "", "author": hashed(author)}
                                    for key, sender, author in rows])
    return len(rows)


def _blank_outgoing(session: Session, keys: Sequence[Any]) -> int:
    rows = session.execute(select(OutgoingEmail.id, OutgoingEmail.to_address).where(OutgoingEmail.id.in_(keys))).all()
    table: Table = OutgoingEmail.__table__  # type: ignore[assignment]  # a declarative model's table
    statement = (update(table).where(table.c.id == bindparam("key"), ~table.c.to_address.startswith(HASHED))
                 .values(to_address=bindparam("to"), subject="", body_text="", body_html=None, context=None,
                         headers={}, attachments=[]))
    if rows:
        session.execute(statement, [{"key": key, "to": hashed(to)} for key, to in rows])
    return len(rows)


def _blank_payloads(session: Session, keys: Sequence[Any]) -> int:
    return changed_rows(session.execute(
        update(Notification).where(Notification.id.in_(keys), _payload_held(session))
        .values(payload=_payload_blanked(session)).execution_options(synchronize_session=False)))


def _notice_at() -> Any:  # a column expression
    """A report notice's time: when the citizen was last emailed about the report, or, if never,
    when the report was submitted."""
    submitted = (select(ChangeReport.submitted_at).where(ChangeReport.id == ReportNotice.report_id)
                 .correlate(ReportNotice).scalar_subquery())
    return func.coalesce(ReportNotice.emailed_at, submitted)


_FINAL_DELIVERY = (NotificationState.DELIVERED, NotificationState.ACKNOWLEDGED, NotificationState.CANCELLED)
_INBOUND_AT = lambda: func.coalesce(InboundMessage.processed_at, InboundMessage.received_at)  # noqa: E731

KINDS: dict[str, _Kind] = {
    "journeys": _Kind(ReportJourney, lambda: ReportJourney.updated_at, lambda s: []),
    "inbound_processed": _Kind(
        InboundMessage, _INBOUND_AT,
        lambda s: [InboundMessage.status == InboundStatus.PROCESSED, func.length(InboundMessage.raw) > 0],
        _blank_inbound),
    "inbound_quarantined": _Kind(
        InboundMessage, _INBOUND_AT,
        lambda s: [InboundMessage.status == InboundStatus.QUARANTINED, func.length(InboundMessage.raw) > 0],
        _blank_inbound),
    "outgoing_email": _Kind(
        OutgoingEmail, lambda: OutgoingEmail.created_at,
        lambda s: [OutgoingEmail.state.in_([OutgoingState.SENT, OutgoingState.CAPTURED, OutgoingState.FAILED]),
                   ~OutgoingEmail.to_address.startswith(HASHED)],
        _blank_outgoing),
    "email_tokens": _Kind(EmailToken, lambda: EmailToken.expires_at, lambda s: []),
    "notification_payloads": _Kind(
        Notification,
        lambda: func.coalesce(Notification.acknowledged_at, Notification.delivered_at, Notification.cancelled_at),
        lambda s: [Notification.state.in_(_FINAL_DELIVERY), _payload_held(s)],
        _blank_payloads),
    "dead_letters": _Kind(
        Notification, lambda: Notification.dead_at,
        lambda s: [Notification.state == NotificationState.DEAD, _payload_held(s)],
        _blank_payloads),
    "delivery_attempts": _Kind(
        DeliveryAttempt, lambda: DeliveryAttempt.finished_at,
        # Never the attempts of a notification still being delivered.
        lambda s: [~exists().where(Notification.id == DeliveryAttempt.notification_id, text(CLAIMABLE_SQL))]),
    "sign_ins": _Kind(SignInEvent, lambda: SignInEvent.at, lambda s: []),
    "data_rights_requests": _Kind(
        DataRightsRequest, lambda: DataRightsRequest.closed_at,
        # An open request is never touched, however old: it is still to be answered.
        lambda s: [DataRightsRequest.state == RequestState.CLOSED]),
    "report_notices": _Kind(
        ReportNotice, _notice_at,
        # Never one the sweep is still to look at, nor one whose report has a notification still to
        # be delivered (an outcome to come would find its record of what the citizen was told gone).
        lambda s: [ReportNotice.changed_at.is_(None),
                   ~exists().where(Notification.report_id == ReportNotice.report_id,
                                   Notification.state.in_(CLAIMABLE))]),
}
# Kinds held in tables of their own, removed chain by chain (``find_audit_chains``).
AUDIT = "audit_events"


def held_kinds() -> list[str]:
    return [*KINDS, AUDIT]


def _conditions(session: Session, kind: _Kind, cutoff: datetime) -> list[ColumnElement[bool]]:
    return [kind.at() < cutoff, *kind.eligible(session)]


def find_expired(session: Session, name: str, *, cutoff: datetime, after: Any, limit: int,
                 lock: bool = True) -> Found:
    """The next ``limit`` rows of kind ``name`` kept since before ``cutoff``, in key order after ``after``;
    locked (PostgreSQL, skipping rows another run holds) when ``lock``."""
    kind = KINDS[name]
    query = select(kind.key, kind.at()).where(*_conditions(session, kind, cutoff))
    if after is not None:
        query = query.where(kind.key > after)
    query = query.order_by(kind.key).limit(limit)
    if lock:
        query = query.with_for_update(skip_locked=True, of=kind.table)
    rows = session.execute(query).all()
    times = [at for _key, at in rows]
    return Found([key for key, _at in rows], min(times, default=None), max(times, default=None),
                 rows[-1][0] if rows else after, len(rows) < limit)


def remove(session: Session, name: str, keys: Sequence[Any], *, action: str, cutoff: datetime) -> int:
    """Delete the rows, or blank their personal fields, if they are still due (every condition again)."""
    if not keys:
        return 0
    kind = KINDS[name]
    if action == "blank":
        if kind.blank is None:
            raise ValueError(f"{name} cannot be blanked")
        # Only those still due: a batch found in another transaction may have changed since (a replay).
        due = list(session.scalars(select(kind.key).where(kind.key.in_(keys), *_conditions(session, kind, cutoff))))
        return kind.blank(session, due) if due else 0
    return changed_rows(session.execute(
        delete(kind.table).where(kind.key.in_(keys), *_conditions(session, kind, cutoff))
        .execution_options(synchronize_session=False)))


def count_expired(session: Session, name: str, *, cutoff: datetime) -> tuple[int, datetime | None, datetime | None]:
    """How many rows of kind ``name`` are due, and the span of their times (a dry run)."""
    if name == AUDIT:
        expired = _expired_chains(cutoff).subquery()
        count, oldest, newest = session.execute(
            select(func.count(), func.min(AuditEvent.at), func.max(AuditEvent.at))
            .where(AuditEvent.chain.in_(select(expired.c.chain)))).one()
        return count, oldest, newest
    kind = KINDS[name]
    count, oldest, newest = session.execute(
        select(func.count(), func.min(kind.at()), func.max(kind.at())).where(*_conditions(session, kind, cutoff))).one()
    return count, oldest, newest


def held_by_age(session: Session, name: str, *, boundaries: Sequence[datetime]) -> list[int]:
    """How many rows of kind ``name`` are held (not yet removed or blanked), by age: newer than
    ``boundaries[0]``, then between each boundary and the next (newest first), then older than the last."""
    if name == AUDIT:
        at: Any = AuditEvent.at
        conditions: list[ColumnElement[bool]] = []
    else:
        kind = KINDS[name]
        at = kind.at()
        # Held: whatever would be removed once old enough (the blanked rows hold nothing).
        conditions = kind.eligible(session) if kind.blank is not None else []
    buckets = [func.coalesce(func.sum(case((at >= boundaries[0], 1), else_=0)), 0)]
    for newer, older in zip(boundaries, boundaries[1:], strict=False):
        buckets.append(func.coalesce(func.sum(case((and_(at < newer, at >= older), 1), else_=0)), 0))
    buckets.append(func.coalesce(func.sum(case((at < boundaries[-1], 1), else_=0)), 0))
    table = AuditEvent if name == AUDIT else KINDS[name].table
    row = session.execute(select(*buckets).select_from(table).where(*conditions)).one()
    return [int(value) for value in row]


# -- the audit trail: each chain is removed whole, newest first ---------------------------


def _expired_chains(cutoff: datetime) -> Any:
    return select(AuditEvent.chain).group_by(AuditEvent.chain).having(func.max(AuditEvent.at) < cutoff)


def remove_audit_chains(session: Session, *, cutoff: datetime, after: str | None, limit: int) -> tuple[Found, int]:
    """Delete up to ``limit`` events of the chains whose last event is before ``cutoff``, chain by chain
    in name order after ``after``, newest event first: whatever is left of a chain (if a run stops
    half-way) is its beginning, which still verifies. On PostgreSQL each chain is taken with the
    advisory lock its appends take (skipped if another run has it), and checked again under it, so
    an event appended meanwhile keeps its chain. Returns the batch and how many events went."""
    query = _expired_chains(cutoff)
    if after is not None:
        query = query.having(AuditEvent.chain > after)
    chains = list(session.scalars(query.order_by(AuditEvent.chain).limit(limit)))
    postgres = session.get_bind().dialect.name == "postgresql"
    budget, removed, position = limit, 0, after
    oldest: datetime | None = None
    newest: datetime | None = None
    finished = True
    for chain in chains:
        if postgres:
            taken = session.execute(text("SELECT pg_try_advisory_xact_lock(:cls, hashtext(:chain))"),
                                    {"cls": ADVISORY_LOCK_CLASS, "chain": chain}).scalar()
            last = session.scalar(select(func.max(AuditEvent.at)).where(AuditEvent.chain == chain)) if taken else None
            if last is None or last >= cutoff:  # another run has it, or an event was appended since
                position = chain
                continue
        rows = session.execute(select(AuditEvent.id, AuditEvent.at).where(AuditEvent.chain == chain)
                               .order_by(AuditEvent.id.desc()).limit(budget)).all()
        left = session.scalar(select(func.count()).where(AuditEvent.chain == chain)) or 0
        if rows:
            times = [at for _id, at in rows]
            oldest = min([t for t in (oldest, min(times)) if t is not None])
            newest = max([t for t in (newest, max(times)) if t is not None])
            session.execute(delete(AuditEvent).where(AuditEvent.id.in_([id_ for id_, _at in rows]))
                            .execution_options(synchronize_session=False))
            removed += len(rows)
            budget -= len(rows)
        if len(rows) < left:  # the chain goes on in the next batch
            finished = False
            break
        position = chain
        if budget <= 0:
            finished = False
            break
    done = finished and len(chains) < limit
    return Found([], oldest, newest, position, done), removed
