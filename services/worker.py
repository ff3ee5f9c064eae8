"""The dispatch worker: claim due notifications, deliver them concurrently, record every attempt.

One asyncio loop per process. Database work runs on one thread beside the loop
(claims and records in batches, one transaction each); HTTP runs on the loop
through one ``WebhookSender``. Per claim the worker:

- checks consent again: a notification whose grant was withdrawn is cancelled
  and nothing is sent;
- dead-letters at once what cannot be built into an event (it blocks nothing);
- queues email for email departments (that is their delivery);
- hands webhook jobs to the loop, where each waits for its department's slot
  (``department_concurrency``) and then a global one (``concurrency``).

Departments whose circuit is open, whose endpoint said 410 Gone, or that have no
usable signing secret are not claimed: their notifications wait, and the
log says why. A department whose circuit has just closed gets one trial first.

Claims are leases: a job whose lease is about to run out is not sent (another
worker may have it soon); a result that comes back after the lease passed on is
refused by the outbox. SIGTERM stops claiming, lets in-flight requests finish,
records them and gives the remaining claims back.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sys
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from services.dispatch_jobs import Claim, Job, Result, claim_jobs
from services.retry import next_attempt_at
from services.signing import signature_headers
from services.webhook import DeliveryResult, Outcome, WebhookSender
from tellusonce.clock import utcnow
from tellusonce.data.dispatch import AttemptRecord, beat, disable_endpoint, note_delivery_health, record_attempts
from tellusonce.data.outbox import release_claims
from tellusonce.db import transaction
from tellusonce.models import AttemptOutcome
from tellusonce.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")

OUTCOMES = {
    Outcome.DELIVERED: AttemptOutcome.DELIVERED,
    Outcome.RETRY: AttemptOutcome.RETRY,
    Outcome.PERMANENT: AttemptOutcome.PERMANENT,
    Outcome.GONE: AttemptOutcome.GONE,
}


@dataclass(frozen=True)
class WorkerConfig:
    concurrency: int = 50
    department_concurrency: int = 10
    lease: timedelta = timedelta(seconds=60)
    batch: int = 500  # most claimed and not yet recorded at once (claims come in halves of it)
    poll_interval: float = 0.5
    heartbeat_interval: float = 5.0
    # A job is not started with less lease left than this (the request could outlive it).
    lease_margin: timedelta = timedelta(seconds=20)
    record_batch: int = 500

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> WorkerConfig:
        values: dict[str, Any] = {
            "concurrency": getattr(settings, "dispatch_concurrency", cls.concurrency),
            "department_concurrency": getattr(settings, "dispatch_department_concurrency",
                                              cls.department_concurrency),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


@dataclass
class Stats:
    delivered: int = 0
    failed: int = 0
    cancelled: int = 0
    dead: int = 0
    lease_lost: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)


def tune_process() -> None:
    """For a process that is a worker: hand the GIL between the event loop and the database
    thread every 0.5 ms instead of 5 ms, or each database call waits for the loop to pause."""
    sys.setswitchinterval(0.0005)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Worker:
    def __init__(self, engine: Engine, settings: Settings, *, sender: WebhookSender,
                 config: WorkerConfig | None = None, clock: Callable[[], datetime] = utcnow,
                 name: str | None = None) -> None:
        self.engine = engine
        self.settings = settings
        self.sender = sender
        self.config = config or WorkerConfig.from_settings(settings)
        self.clock = clock
        self.name = name or worker_name()
        self.stats = Stats()
        self.started_at = clock()
        self._db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tellusonce-db")
        self._stopping = asyncio.Event()
        self._outstanding: Counter[str] = Counter()  # claimed, not yet recorded, per department
        self._department_slots: dict[str, asyncio.Semaphore] = {}
        self._slots = asyncio.Semaphore(self.config.concurrency)
        self._results: asyncio.Queue[Result | None] = asyncio.Queue()
        self._room = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._warned: dict[str, datetime] = {}
        self._troubled: set[str] = set()  # departments whose circuit breaker has failures on record

    # -- control ---------------------------------------------------------------------

    def request_stop(self) -> None:
        """Stop claiming; finish what is in flight; give the rest back (SIGTERM)."""
        self._stopping.set()
        self._room.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    async def _in_db(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._db, fn, *args)

    async def run(self, *, once: bool = False) -> Stats:
        """Deliver until stopped; with ``once``, until nothing is due."""
        recorder = asyncio.create_task(self._recorder())
        heart = asyncio.create_task(self._heartbeat())
        try:
            await self._claim_loop(once=once)
        finally:
            self._stopping.set()
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
            await self._results.put(None)
            await recorder
            heart.cancel()
            await asyncio.gather(heart, return_exceptions=True)
            await self._retrying_db("release claims", self._release)
            await self._retrying_db("heartbeat", self._beat, True)
            self._db.shutdown(wait=True)
        return self.stats

    async def _claim_loop(self, *, once: bool) -> None:
        failures = 0
        capacity = max(self.config.batch, self.config.concurrency * 2)
        while not self.stopping:
            room = capacity - sum(self._outstanding.values())
            claimed = 0
            if room >= capacity // 2 or not self._outstanding:
                try:
                    claim = await self._in_db(self._claim, room, dict(self._outstanding))
                    failures = 0
                except (OperationalError, DBAPIError) as e:
                    failures += 1
                    delay = min(2 ** failures * 0.25, 30.0)
                    log.warning("claiming failed; trying again in %.1fs: %s", delay, _short(e),
                                extra={"worker": self.name})
                    await self._sleep(delay)
                    continue
                claimed = claim.claimed
                for job in claim.jobs:
                    self._outstanding[job.department_id] += 1
                    task = asyncio.create_task(self._deliver(job))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
            if once and not claimed and not self._outstanding:
                return
            if not claimed or room - claimed < capacity // 2:
                self._room.clear()
                try:
                    await asyncio.wait_for(self._room.wait(), timeout=self.config.poll_interval)
                except TimeoutError:
                    pass

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        except TimeoutError:
            pass

    # -- claiming (database thread) --------------------------------------------------

    def _claim(self, limit: int, outstanding: dict[str, int]) -> Claim:
        now = self.clock()
        with transaction(self.engine) as session:
            claim = claim_jobs(
                session, worker=self.name, settings=self.settings, limit=limit, lease=self.config.lease,
                now=now, outstanding=outstanding, department_cap=self.config.department_concurrency * 2,
            )
        self._troubled = claim.troubled
        for department_id, problem in claim.blocked.items():
            self._warn_blocked(department_id, problem, now)
        self.stats.cancelled += claim.cancelled
        self.stats.dead += claim.dead
        self.stats.delivered += claim.emailed
        return claim

    def _warn_blocked(self, department_id: str, problem: str, now: datetime) -> None:
        last = self._warned.get(department_id)
        if last is None or now - last > timedelta(minutes=1):
            self._warned[department_id] = now
            log.error("notifications for %s are waiting: %s", department_id, problem,
                      extra={"department": department_id, "worker": self.name})

    # -- delivering (event loop) -----------------------------------------------------

    async def _deliver(self, job: Job) -> None:
        result: Result | None = None
        try:
            slots = self._department_slots.setdefault(
                job.department_id, asyncio.Semaphore(self.config.department_concurrency))
            async with slots, self._slots:
                if self.stopping or self.clock() > job.lease_expires_at - self.config.lease_margin:
                    return  # not sent: released on stop, or reclaimed when the lease ends
                result = await self._post(job)
        finally:
            if result is None:
                self._done(job.department_id)
            else:
                self._results.put_nowait(result)

    async def _post(self, job: Job) -> Result:
        assert job.webhook is not None
        signed_at = datetime.now(UTC)  # the receiver checks this against its own clock
        started = self.clock()
        headers = signature_headers(job.webhook.body, msg_id=str(job.notification_id), at=signed_at,
                                    secrets=job.webhook.secrets)
        delivery: DeliveryResult = await self.sender.deliver(
            url=job.webhook.url, body=job.webhook.body, headers=headers,
            allow_private_network=job.webhook.allow_private_network,
        )
        return Result(job=job, outcome=OUTCOMES[delivery.outcome], started_at=started, finished_at=self.clock(),
                      status_code=delivery.status_code, latency_ms=delivery.latency_ms, error=delivery.error,
                      retry_after=delivery.retry_after)

    def _done(self, department_id: str, count: int = 1) -> None:
        self._outstanding[department_id] -= count
        if self._outstanding[department_id] <= 0:
            del self._outstanding[department_id]
        self._room.set()

    # -- recording (database thread) -------------------------------------------------

    async def _recorder(self) -> None:
        finished = False
        while not finished:
            first = await self._results.get()
            batch: list[Result] = []
            if first is None:
                finished = True
            else:
                batch.append(first)
            while len(batch) < self.config.record_batch and not self._results.empty():
                item = self._results.get_nowait()
                if item is None:
                    finished = True
                else:
                    batch.append(item)
            if batch:
                await self._retrying_db("recording results", self._record, batch)
                for result in batch:
                    self._done(result.job.department_id)

    async def _retrying_db(self, what: str, fn: Callable[..., Any], *args: Any) -> Any:
        """Database work that must happen: retried with back-off through a lost connection."""
        failures = 0
        while True:
            try:
                return await self._in_db(fn, *args)
            except (OperationalError, DBAPIError) as e:
                failures += 1
                delay = min(2 ** failures * 0.25, 30.0)
                log.warning("%s failed; trying again in %.1fs: %s", what, delay, _short(e),
                            extra={"worker": self.name})
                await asyncio.sleep(delay)

    def _record(self, results: list[Result]) -> None:
        now = self.clock()
        records = [
            AttemptRecord(
                notification_id=r.job.notification_id, outcome=r.outcome, started_at=r.started_at,
                finished_at=r.finished_at, status_code=r.status_code, latency_ms=r.latency_ms, error=r.error,
                next_attempt_at=partial(_retry_time, now=now, retry_after=r.retry_after),
            )
            for r in results
        ]
        with transaction(self.engine) as session:
            recorded = record_attempts(session, records, worker=self.name, now=now)
            health: dict[str, list[int]] = {}
            for result in results:
                held, number, next_at = recorded[result.job.notification_id]
                self._account(session, result, held, number, next_at, now, health)
            for department_id, (succeeded, failures) in health.items():
                if succeeded and department_id not in self._troubled:
                    continue  # nothing to reset
                if succeeded:
                    self._troubled.discard(department_id)
                else:
                    self._troubled.add(department_id)
                change = note_delivery_health(session, department_id, succeeded=bool(succeeded),
                                              failures=failures, now=now)
                if change.opened and not succeeded:
                    log.warning("circuit open for %s until %s after %d failures in a row", department_id,
                                change.circuit_open_until, change.consecutive_failures,
                                extra={"department": department_id, "worker": self.name})

    def _account(self, session: Any, result: Result, held: bool, number: int, next_at: datetime | None,
                 now: datetime, health: dict[str, list[int]]) -> None:
        """Count, log and act on one recorded result (410 disables the endpoint)."""
        job = result.job
        extra = {"notification": str(job.notification_id), "department": job.department_id,
                 "outcome": result.outcome, "status_code": result.status_code, "worker": self.name}
        self.stats.outcomes[result.outcome if held else AttemptOutcome.LEASE_LOST] += 1
        if not held:
            self.stats.lease_lost += 1
            log.warning("result for %s refused: the claim passed to another worker", job.notification_id, extra=extra)
            return
        entry = health.setdefault(job.department_id, [0, 0])
        if result.outcome == AttemptOutcome.DELIVERED:
            self.stats.delivered += 1
            entry[0] += 1
            return
        self.stats.failed += 1
        if result.outcome == AttemptOutcome.RETRY:
            entry[1] += 1
            if next_at is not None:
                log.info("delivery of %s failed; next attempt at %s: %s", job.notification_id,
                         next_at.isoformat(), result.error, extra=extra)
                return
        self.stats.dead += 1
        if result.outcome == AttemptOutcome.GONE:
            disable_endpoint(session, job.department_id, reason=result.error or "410 Gone", now=now,
                             actor=f"worker:{self.name}")
            log.error("%s answered 410 Gone: its endpoint is disabled until an operator enables it "
                      "(tellusonce departments enable %s)", job.department_id, job.department_id, extra=extra)
        else:
            log.warning("notification %s is dead after attempt %d: %s", job.notification_id, number,
                        result.error, extra=extra)

    def _release(self) -> None:
        with transaction(self.engine) as session:
            released = release_claims(session, worker=self.name, now=self.clock())
        if released:
            log.info("gave back %d claimed notifications", released, extra={"worker": self.name})

    # -- heartbeat -------------------------------------------------------------------

    def _beat(self, stopped: bool = False) -> None:
        with transaction(self.engine) as session:
            beat(session, worker=self.name, started_at=self.started_at, now=utcnow(),
                 delivered=self.stats.delivered, failed=self.stats.failed, stopped=stopped)

    async def _heartbeat(self) -> None:
        while True:
            try:
                await self._in_db(self._beat)
            except (OperationalError, DBAPIError) as e:
                log.warning("heartbeat failed: %s", _short(e), extra={"worker": self.name})
            await asyncio.sleep(self.config.heartbeat_interval)


def _retry_time(number: int, *, now: datetime, retry_after: float | None) -> datetime | None:
    return next_attempt_at(number, now=now, retry_after=retry_after)


def _short(error: BaseException) -> str:
    return str(error).splitlines()[0][:300] if str(error) else type(error).__name__
