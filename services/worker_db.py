"""The worker's database side: claim, record, give back, beat.

Each function is one transaction, run on the worker's database thread, and
takes and returns plain values: the event loop never touches a session. (A
process of its own for this side was tried twice: on two cores, where the sink
or the departments' servers need a core too, it delivered 15-35 % less than the
thread, so the thread stays; the README's dispatch benchmark says more.)
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy import Engine

from services.dispatch_jobs import Claim, claim_jobs
from services.retry import next_attempt_at
from tellusonce.data.dispatch import Health, beat, disable_endpoint, note_delivery_health
from tellusonce.data.outbox import AttemptRecord, AttemptResult, record_attempts, release_claims
from tellusonce.db import transaction
from tellusonce.models import AttemptOutcome
from tellusonce.settings import Settings


@dataclass(frozen=True)
class DbContext:
    engine: Engine
    settings: Settings


def claim_work(ctx: DbContext, *, worker: str, limit: int, lease: timedelta, now: datetime,
               outstanding: dict[str, int], department_cap: int) -> Claim:
    context = ctx
    with transaction(context.engine) as session:
        claim = claim_jobs(session, worker=worker, settings=context.settings, limit=limit, lease=lease, now=now,
                           outstanding=outstanding, department_cap=department_cap)
    claim.settled = []  # recorded already; nothing to send back
    return claim


@dataclass(frozen=True, kw_only=True)
class ResultRecord(AttemptRecord):
    """One delivery's result, as the event loop hands it over for recording."""

    department_id: str
    retry_after: float | None = None  # seconds the department asked us to wait (Retry-After)


@dataclass
class Recorded:
    # notification id -> (the result stood, attempt number, next attempt time if retried)
    results: dict[uuid.UUID, AttemptResult] = field(default_factory=dict)
    circuits: list[Health] = field(default_factory=list)  # departments whose breaker changed
    disabled: list[str] = field(default_factory=list)  # departments that answered 410 Gone


def record_results(ctx: DbContext, *, worker: str, results: list[ResultRecord], now: datetime,
                   troubled: frozenset[str]) -> Recorded:
    """Record a batch of results, move the notifications on, and feed the circuit breakers.

    ``troubled`` are the departments with failures on record: a success elsewhere
    has nothing to reset, so it costs no write.
    """
    context = ctx
    # A retry's next time follows the schedule from its attempt number (known only when recorded).
    records = [replace(r, next_attempt_at=partial(_retry_time, now=now, retry_after=r.retry_after))
               if r.outcome == AttemptOutcome.RETRY else r for r in results]
    recorded = Recorded()
    with transaction(context.engine) as session:
        recorded.results = record_attempts(session, records, worker=worker, now=now)
        health: dict[str, list[int]] = {}
        for r in results:
            stood = recorded.results[r.notification_id][0]
            if not stood:
                continue
            entry = health.setdefault(r.department_id, [0, 0])
            if r.outcome == AttemptOutcome.DELIVERED:
                entry[0] += 1
            elif r.outcome == AttemptOutcome.RETRY:
                entry[1] += 1
            elif r.outcome == AttemptOutcome.GONE:
                disable_endpoint(session, r.department_id, reason=r.error or "410 Gone", now=now,
                                 actor=f"worker:{worker}")
                recorded.disabled.append(r.department_id)
        for department_id, (succeeded, failures) in health.items():
            if (succeeded and department_id not in troubled) or (not succeeded and not failures):
                continue
            recorded.circuits.append(note_delivery_health(session, department_id, succeeded=bool(succeeded),
                                                          failures=failures, now=now))
    return recorded


def _retry_time(number: int, *, now: datetime, retry_after: float | None) -> datetime | None:
    return next_attempt_at(number, now=now, retry_after=retry_after)


def release(ctx: DbContext, *, worker: str, now: datetime) -> int:
    with transaction(ctx.engine) as session:
        return release_claims(session, worker=worker, now=now)


def heartbeat(ctx: DbContext, *, worker: str, started_at: datetime, now: datetime, delivered: int,
              failed: int, stopped: bool = False) -> None:
    with transaction(ctx.engine) as session:
        beat(session, worker=worker, started_at=started_at, now=now, delivered=delivered, failed=failed,
             stopped=stopped)
