"""Applying the retention schedule: remove what has been kept long enough, in small batches.

``run_batch`` does one batch of one kind in the caller's transaction: find up to ``limit`` rows due
(locked, skipping those another run holds), delete or blank them, and record an audit event saying
how many of which kind went and the span of their times (never what they held), so the evidence is
committed with the removal or not at all. ``run_retention`` runs every kind batch after batch, each
in a short transaction of its own (``begin``), so no lock is held for long and a run stopped at any
point leaves every batch whole; the next run simply finds less to do. Runs on several hosts at
once share the work: each row is taken by one of them.

Given ``read`` (a read-only transaction: SQLite's, where a reader never waits for the one writer
nor holds it up), a batch is found there first and only removed in the writing transaction, whose
statements check every condition again; a batch that finds nothing writes nothing. On PostgreSQL
the find stays in the writing transaction, where ``FOR UPDATE SKIP LOCKED`` shares rows out
between runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from tellusonce.data import closed_accounts
from tellusonce.data import retention as held
from tellusonce.data.audit import record_event
from tellusonce.domain.retention import Action, Kind, Period, Rule, Schedule

ACTOR = "retention"  # the audit chain of every removal
BATCH = 500


@dataclass(frozen=True)
class Batch:
    kind: Kind
    removed: int
    oldest: datetime | None
    newest: datetime | None
    after: Any  # where the next batch of this kind starts
    done: bool  # this kind has nothing more to look at in this run
    seconds: float = 0.0


@dataclass
class KindResult:
    kind: Kind
    action: Action
    removed: int = 0
    oldest: datetime | None = None
    newest: datetime | None = None
    batches: int = 0
    longest_batch_seconds: float = 0.0

    def add(self, batch: Batch) -> None:
        self.removed += batch.removed
        self.batches += 1
        self.longest_batch_seconds = max(self.longest_batch_seconds, batch.seconds)
        if batch.oldest is not None:
            self.oldest = min(self.oldest or batch.oldest, batch.oldest)
        if batch.newest is not None:
            self.newest = max(self.newest or batch.newest, batch.newest)


@dataclass
class RunResult:
    dry_run: bool
    kinds: list[KindResult] = field(default_factory=list)

    @property
    def removed(self) -> int:
        return sum(k.removed for k in self.kinds)

    @property
    def longest_batch_seconds(self) -> float:
        return max((k.longest_batch_seconds for k in self.kinds), default=0.0)


def run_batch(session: Session, rule: Rule, *, now: datetime, after: Any = None, limit: int = BATCH,
              found: held.Found | None = None) -> Batch:
    """One batch of ``rule``'s kind, in the caller's transaction, with its audit event; ``found``:
    the batch as already found (in a read transaction) at ``now``, for this one to remove."""
    cutoff = rule.keep.cutoff(now)
    if rule.kind == Kind.CLOSED_ACCOUNTS:
        return _closed_account_batch(session, rule, now=now, cutoff=cutoff, limit=limit)
    if rule.kind == Kind.AUDIT_EVENTS:
        found, removed = held.remove_audit_chains(session, cutoff=cutoff, after=after, limit=limit)
    else:
        if found is None:
            found = held.find_expired(session, rule.kind.value, cutoff=cutoff, after=after, limit=limit)
        removed = held.remove(session, rule.kind.value, found.keys, action=rule.then.value, cutoff=cutoff)
    if removed:
        record_event(session, actor=ACTOR, action=f"retention.{'blanked' if rule.then == Action.BLANK else 'deleted'}",
                     subject_type="retention", subject_id=rule.kind.value, at=now, details={
                         "kind": rule.kind.value, "action": rule.then.value, "count": removed,
                         "oldest": found.oldest, "newest": found.newest, "kept": str(rule.keep), "cutoff": cutoff,
                     })
    return Batch(rule.kind, removed, found.oldest, found.newest, found.after, found.done)


def _closed_account_batch(session: Session, rule: Rule, *, now: datetime, cutoff: datetime, limit: int) -> Batch:
    """One batch of one closed account (``tellusonce.data.closed_accounts``): up to ``limit`` rows of
    one kind, or, once it holds nothing else, the account itself. Never done while one is due: the
    next batch starts again from the account longest due, as a later run would."""
    due = closed_accounts.next_closed_account(session, cutoff=cutoff)
    if due is None:
        return Batch(rule.kind, 0, None, None, None, True)
    citizen_id, closed_at = due
    step = closed_accounts.erase_step(session, citizen_id, closed_at, limit=limit, now=now)
    record_event(session, actor=ACTOR, action="retention.blanked", subject_type="retention",
                 subject_id=rule.kind.value, at=now, details={
                     "kind": rule.kind.value, "action": rule.then.value, "count": step.count, "part": step.part,
                     "account": str(citizen_id), "finished": step.finished, "oldest": closed_at, "newest": closed_at,
                     "kept": str(rule.keep), "cutoff": cutoff,
                 })
    # An account counts once, when it is erased; its rows are counted in the audit events.
    return Batch(rule.kind, 1 if step.finished else 0, closed_at, closed_at, None, False)


def dry_run_kind(session: Session, rule: Rule, *, now: datetime) -> KindResult:
    """What a run would remove of ``rule``'s kind now, changing nothing."""
    result = KindResult(rule.kind, rule.then)
    if rule.kind == Kind.CLOSED_ACCOUNTS:
        result.removed, result.oldest, result.newest = closed_accounts.count_due(session, cutoff=rule.keep.cutoff(now))
    else:
        result.removed, result.oldest, result.newest = held.count_expired(
            session, rule.kind.value, cutoff=rule.keep.cutoff(now))
    return result


def _find_first(read: Callable[[], AbstractContextManager[Session]], rule: Rule, *, now: datetime, after: Any,
                limit: int) -> held.Found | None:
    """The next batch, found in a read transaction (None: this kind is found where it is removed)."""
    if rule.kind in (Kind.AUDIT_EVENTS, Kind.CLOSED_ACCOUNTS):
        return None
    with read() as session:
        return held.find_expired(session, rule.kind.value, cutoff=rule.keep.cutoff(now), after=after, limit=limit,
                                 lock=False)


def run_retention(begin: Callable[[], AbstractContextManager[Session]], schedule: Schedule, *,
                  now: Callable[[], datetime], dry_run: bool = False, limit: int = BATCH,
                  kinds: Iterable[Kind] | None = None,
                  read: Callable[[], AbstractContextManager[Session]] | None = None) -> RunResult:
    """Every kind of the schedule (or ``kinds``), batch after batch, each batch in a transaction of
    its own from ``begin`` (found first in one from ``read``, where given); a dry run reads in one
    transaction and writes nothing. A batch's seconds are its writing transaction's."""
    chosen = set(kinds) if kinds is not None else set(Kind)
    rules = [rule for rule in schedule.rules if rule.kind in chosen]
    result = RunResult(dry_run)
    if dry_run:
        with begin() as session:
            result.kinds = [dry_run_kind(session, rule, now=now()) for rule in rules]
        return result
    for rule in rules:
        outcome = KindResult(rule.kind, rule.then)
        after: Any = None
        while True:
            at = now()
            found = _find_first(read, rule, now=at, after=after, limit=limit) if read is not None else None
            if found is not None and not found.keys:  # nothing (more) to remove: no writing transaction
                outcome.add(Batch(rule.kind, 0, None, None, found.after, True))
                break
            started = time.monotonic()
            with begin() as session:
                batch = run_batch(session, rule, now=at, after=after, limit=limit, found=found)
            outcome.add(replace(batch, seconds=time.monotonic() - started))
            if batch.done:
                break
            after = batch.after
        result.kinds.append(outcome)
    return result


AGES = (("under 1d", Period(1, "day")), ("1-7d", Period(7, "day")), ("7-30d", Period(30, "day")),
        ("30-90d", Period(90, "day")), ("90d-1y", Period(1, "year")), ("1-6y", Period(6, "year")))
OLDEST_AGE = "over 6y"


@dataclass(frozen=True)
class HeldKind:
    kind: Kind
    keep: Period
    then: Action
    by_age: list[int]  # one count per age in ``Report.ages``
    due: int  # past its period: what the next run removes


@dataclass(frozen=True)
class Report:
    ages: list[str]
    kinds: list[HeldKind]


def retention_report(session: Session, schedule: Schedule, *, now: datetime) -> Report:
    """What is held of each kind, by age (blanked rows hold nothing and are not counted), and how
    much of it is past its period."""
    boundaries = [period.cutoff(now) for _label, period in AGES]
    kinds = []
    for rule in schedule.rules:
        if rule.kind == Kind.CLOSED_ACCOUNTS:
            by_age = closed_accounts.held_by_age(session, boundaries=boundaries)
            due, _oldest, _newest = closed_accounts.count_due(session, cutoff=rule.keep.cutoff(now))
        else:
            by_age = held.held_by_age(session, rule.kind.value, boundaries=boundaries)
            due, _oldest, _newest = held.count_expired(session, rule.kind.value, cutoff=rule.keep.cutoff(now))
        kinds.append(HeldKind(rule.kind, rule.keep, rule.then, by_age, due))
    return Report([label for label, _period in AGES] + [OLDEST_AGE], kinds)
