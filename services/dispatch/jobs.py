"""Turning claimed notifications into jobs, in the worker's claim transaction.

Everything that needs no network happens here, in the same transaction as the
claim: the check before sending (consent withdrawn, or the report cancelled by
the citizen: cancelled, nothing sent; ``withheld_because``), building the event
(cannot be built: dead at once, blocking nothing), and the email channel
(queueing the email is its delivery). What is left are webhook jobs: plain
frozen values the event loop can send without touching the database.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

from jinja2 import TemplateError
from sqlalchemy.orm import Session

from tellusonce.application.report_notices import note_outcomes
from tellusonce.data.consent import receipts_in_force
from tellusonce.data.dispatch import BREAKER_THRESHOLD, all_departments
from tellusonce.data.outbox import (
    AttemptRecord,
    AttemptResult,
    Claimed,
    claim_due,
    open_department_ids,
    record_attempts,
)
from tellusonce.domain.events import EventError, build_event
from tellusonce.models import AttemptOutcome, ChannelKind, Department, NotificationKind, NotificationState, ReportState
from tellusonce.settings import Settings
from tellusonce_services.dispatch.email_channel import queue_department_email
from tellusonce_services.dispatch.signing import MissingSecret, department_secrets
from tellusonce_services.dispatch.webhook import url_problem

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WebhookTarget:
    """Where and how one department's webhooks go (one per department in a claim)."""

    url: str
    secrets: tuple[str, ...]
    allow_private_network: bool


class Job(NamedTuple):
    """One webhook to send: plain values the event loop needs, built thousands of times a second
    (and passed from the database process: strings and bytes cost least to pass)."""

    notification_id: str  # as the event's id and the webhook-id carry it
    department_id: str
    lease_expires_at: datetime
    webhook: WebhookTarget | None = None
    body: bytes = b""


@dataclass
class Claim:
    jobs: list[Job] = field(default_factory=list)
    blocked: dict[str, str] = field(default_factory=dict)  # department id -> why its notifications wait
    troubled: set[str] = field(default_factory=set)  # departments with failures on record
    cancelled: int = 0
    dead: int = 0
    emailed: int = 0
    claimed: int = 0  # notifications claimed, whatever became of them
    settled: list[AttemptRecord] = field(default_factory=list)  # decided without the network


def claim_jobs(session: Session, *, worker: str, settings: Settings, limit: int, lease: timedelta,
               now: datetime, outstanding: dict[str, int], department_cap: int,
               department_caps: Mapping[str, int] | None = None) -> Claim:
    """Claim up to ``limit`` notifications and settle or make a job of each. A department may have
    at most its cap claimed and not yet recorded (``outstanding``): ``department_caps`` gives the
    caps the worker has worked out, ``department_cap`` the cap of any other."""
    claim = Claim()
    caps = department_caps or {}
    departments = {d.id: d for d in all_departments(session)}
    targets: dict[str, WebhookTarget] = {}
    healthy: list[str] = []
    trials: list[str] = []
    open_ids = open_department_ids(session, now=now)
    for d in departments.values():
        if d.consecutive_failures or d.circuit_open_until is not None:
            claim.troubled.add(d.id)
        if d.id not in open_ids or outstanding.get(d.id, 0) >= caps.get(d.id, department_cap):
            continue
        if d.channel == ChannelKind.WEBHOOK:
            problem = _webhook_problem(settings, d, targets)
            if problem:
                claim.blocked[d.id] = problem
                continue
        if d.consecutive_failures >= BREAKER_THRESHOLD:
            if not outstanding.get(d.id):
                trials.append(d.id)  # the circuit has just closed: one notification tries the water
        else:
            healthy.append(d.id)
    # Each department gets at most its share of the batch, its oldest first, in one statement:
    # a department with a backlog, or a slow one, cannot fill the batch and crowd the others out.
    rooms = {d: caps.get(d, department_cap) - outstanding.get(d, 0) for d in healthy}
    rooms.update((d, 1) for d in trials)
    shares = {d: share for d, share in even_shares(rooms, limit).items() if share > 0}
    claimed = claim_due(session, worker=worker, limit=limit, lease=lease, now=now, department_ids=list(shares),
                        per_department=shares)
    claim.claimed = len(claimed)
    if not claimed:
        return claim
    allowed = receipts_in_force(session, (n.consent_receipt_id for n in claimed), now=now)
    for n in claimed:
        _prepare(session, claim, n, departments[n.department_id], settings=settings, now=now,
                 withheld=withheld_because(n, consent_in_force=n.consent_receipt_id in allowed),
                 target=targets.get(n.department_id))
    if claim.settled:
        recorded = record_attempts(session, claim.settled, worker=worker, now=now)
        note_recorded(session, claim.settled, recorded, channels={d.id: d.channel for d in departments.values()},
                      now=now)
    return claim


def note_recorded(session: Session, records: list[AttemptRecord], recorded: Mapping[uuid.UUID, AttemptResult], *,
                  channels: Mapping[str, str], now: datetime) -> int:
    """Mark the reports whose notifications these recorded attempts moved to an outcome the citizen
    may be emailed about (in the recording transaction); how many reports."""
    outcomes = []
    for r in records:
        stood, _number, next_at = recorded[r.notification_id]
        if stood:
            outcomes.append((r.notification_id, state_after(r.outcome, next_at), channels.get(r.department_id, "")))
    return note_outcomes(session, outcomes, now=now)


def state_after(outcome: str, next_attempt_at: datetime | None) -> str:
    """The state an attempt that stood left its notification in (``tellusonce.data.outbox``)."""
    if outcome == AttemptOutcome.DELIVERED:
        return NotificationState.DELIVERED
    if outcome == AttemptOutcome.CANCELLED:
        return NotificationState.CANCELLED
    return NotificationState.RETRYING if next_attempt_at is not None else NotificationState.DEAD


def even_shares(rooms: Mapping[str, int], limit: int) -> dict[str, int]:
    """``limit`` split evenly among departments, none given more than its room (its cap less what
    it has outstanding), what one cannot take going to the others. The shares add up to no more
    than the limit: on PostgreSQL each share's rows are locked (``FOR UPDATE SKIP LOCKED``) before
    the batch is chosen from them, so shares beyond the limit lock rows only to leave them."""
    shares: dict[str, int] = {}
    left = limit
    by_room = sorted((room, d) for d, room in rooms.items() if room > 0)
    for i, (room, d) in enumerate(by_room):
        shares[d] = min(room, -(-left // (len(by_room) - i)))  # the rest, evenly, rounded up
        left -= shares[d]
    return shares


def _webhook_problem(settings: Settings, department: Department, targets: dict[str, WebhookTarget]) -> str | None:
    """Why this department's webhooks cannot go now, or None (and its target in ``targets``)."""
    if not department.webhook_url:
        return "the registry gives no webhook_url"
    problem = url_problem(department.webhook_url, https_only=settings.is_production,
                          allow_private_network=department.allow_private_network)
    if problem:
        return problem
    try:
        secrets = tuple(department_secrets(settings, department.id, department.secret_env))
    except MissingSecret as e:
        return str(e)
    targets[department.id] = WebhookTarget(url=department.webhook_url, secrets=secrets,
                                           allow_private_network=department.allow_private_network)
    return None


def withheld_because(n: Claimed, *, consent_in_force: bool) -> str | None:
    """Why a claimed notification must not be sent after all, or None: the one check before sending.

    Its consent was withdrawn; or it tells of a change whose report the citizen has cancelled
    (a dead letter replayed, or a claim taken over from a worker that stopped mid-send). A
    cancellation event is sent whatever became of its report: it is what the organisation must hear.
    So is word that the account closed: closing withdraws every consent, and the citizen asked for
    the organisations to be told (UK GDPR Art. 19), which needs no consent.
    """
    if n.kind == NotificationKind.ACCOUNT_CLOSED:
        return None
    if not consent_in_force:
        return "consent withdrawn"
    if n.kind == NotificationKind.CHANGE and n.report_state == ReportState.CANCELLED:
        return "report cancelled"
    return None


# What the attempt log says of a notification withheld (``withheld_because``).
WITHHELD = {
    "consent withdrawn": "consent withdrawn before delivery; nothing was sent",
    "report cancelled": "the report was cancelled before delivery; nothing was sent",
}


def _prepare(session: Session, claim: Claim, n: Claimed, department: Department, *, settings: Settings,
             now: datetime, withheld: str | None, target: WebhookTarget | None) -> None:
    """Settle what needs no network (withheld, unbuildable, the email channel) or make the webhook job."""
    def settle(outcome: str, error: str | None = None) -> None:
        claim.settled.append(AttemptRecord(notification_id=n.id, department_id=n.department_id, outcome=outcome,
                                           started_at=now, finished_at=now, error=error))

    if withheld:
        settle(AttemptOutcome.CANCELLED, WITHHELD[withheld])
        claim.cancelled += 1
        log.info("notification %s cancelled: %s", n.id, withheld, extra=_extra(n))
        return
    try:
        body = build_event(notification_id=n.id, change_type=n.change_type, report_reference=n.report_reference,
                           payload=n.payload, consent_receipt_id=n.consent_receipt_id, created_at=n.created_at,
                           source=settings.base_url, kind=n.kind)
    except EventError as e:
        settle(AttemptOutcome.PERMANENT, str(e))
        claim.dead += 1
        log.warning("notification %s is dead: its event cannot be built", n.id, extra=_extra(n))
        return
    if target is not None:
        claim.jobs.append(Job(str(n.id), n.department_id, n.lease_expires_at, target, body))
        return
    # The email channel: queueing the email is the delivery.
    try:
        with session.begin_nested():
            queue_department_email(
                session, department=department, notification_id=n.id, change_type=n.change_type,
                reference=n.report_reference, payload=json.loads(n.payload), consent_receipt_id=n.consent_receipt_id,
                created_at=n.created_at, event_body=body, base_url=settings.base_url, kind=n.kind,
            )
    except (ValueError, LookupError, TypeError, TemplateError) as e:
        settle(AttemptOutcome.PERMANENT, f"cannot write the email: {e}")
        claim.dead += 1
        log.warning("notification %s is dead: its email cannot be written", n.id, extra=_extra(n))
        return
    settle(AttemptOutcome.DELIVERED)
    claim.emailed += 1


def _extra(n: Claimed) -> dict[str, str]:
    return {"notification": str(n.id), "department": n.department_id}
