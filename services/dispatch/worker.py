"""The dispatch worker: claim due notifications, deliver them concurrently, record every attempt.

One asyncio loop per process sends HTTP through one ``WebhookSender``; the
database work (``services/dispatch/worker_db.py``: claims and records in batches, one
transaction each) runs in a process of its own where there is more than one
core, else on one thread beside the loop. Per claim the worker:

- checks consent again: a notification whose grant was withdrawn is cancelled
  and nothing is sent;
- dead-letters at once what cannot be built into an event (it blocks nothing);
- queues email for email departments (that is their delivery);
- hands webhook jobs to the loop, where ``concurrency`` senders take them in
  turns by department, never more than ``department_concurrency`` of one
  department at once (``Lanes``).

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
import gc
import logging
import os
import socket
import sys
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from tellusonce.clock import system_now, utcnow
from tellusonce.config_files import load_schedule
from tellusonce.data.outbox import AttemptRecord
from tellusonce.domain.retention import Schedule
from tellusonce.models import AttemptOutcome
from tellusonce.settings import Settings
from tellusonce_services.dispatch import worker_db
from tellusonce_services.dispatch.jobs import Claim, Job
from tellusonce_services.dispatch.signing import signature_headers
from tellusonce_services.dispatch.webhook import Outcome, WebhookSender
from tellusonce_services.dispatch.worker_db import DatabaseProcess, DatabaseThread, Recorded, open_database_side

log = logging.getLogger(__name__)
T = TypeVar("T")
# The database could not be reached, or its process died: back off and try again.
DATABASE_TROUBLE = (OperationalError, DBAPIError, BrokenProcessPool)

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
    # Jobs kept waiting for a sender: a claim tops them up to this when they fall below half
    # of it, while the senders go on with the other half (claims never wait for records).
    batch: int = 1000
    poll_interval: float = 0.5
    heartbeat_interval: float = 5.0
    # The retention schedule (config/retention.toml: journeys, raw mail, payloads …) is applied
    # this often, a batch at a time between claims and records (``tellusonce.application.retention``).
    retention_interval: float = 600.0
    # Reports quiet since their last outcome get their email to the citizen this often, beside the
    # heartbeat (services/dispatch/notices.py; the quiet period is TELLUSONCE_REPORT_NOTICE_QUIET_MINUTES).
    notice_sweep_interval: float = 30.0
    # A job is not started with less lease left than this (the request could outlive it).
    lease_margin: timedelta = timedelta(seconds=20)
    record_batch: int = 500
    # The recorder waits this long after a first result for others to join it: fewer, larger
    # transactions (each costs a commit and a session, whatever its size).
    record_wait: float = 0.02
    # The database side in a process of its own (see services/dispatch/worker_db.py); with one core a
    # thread is better, the process only adding its hand-over.
    database_process: bool = field(default_factory=lambda: (os.cpu_count() or 1) > 1)

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


def tune_process() -> None:
    """For a process that is a worker, once it has imported what it needs: hand the GIL between
    the event loop and the database thread (or the executor's threads) every 0.5 ms instead of
    5 ms, or each database call waits for the loop to pause; and leave the modules' objects out
    of the garbage collector's full passes, which otherwise walk them all again and again."""
    sys.setswitchinterval(0.0005)
    gc.freeze()


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Worker:
    def __init__(self, engine: Engine, settings: Settings, *, sender: WebhookSender,
                 config: WorkerConfig | None = None, clock: Callable[[], datetime] = utcnow,
                 name: str | None = None, retention: Schedule | None = None) -> None:
        self.engine = engine
        self.retention = retention or load_schedule(settings.retention)
        self.settings = settings
        self.sender = sender
        self.config = config or WorkerConfig.from_settings(settings)
        self.clock = clock
        self.name = name or worker_name()
        self.stats = Stats()
        self.started_at = clock()
        self._db: DatabaseThread | DatabaseProcess | None = None
        self._stopping = asyncio.Event()
        self._outstanding: Counter[str] = Counter()  # claimed, not yet recorded, per department
        self._lanes = Lanes(self.config.department_concurrency)
        # Jobs kept ready for the senders: at least two per sender.
        self._batch = max(self.config.batch, self.config.concurrency * 2)
        self._results: list[AttemptRecord] = []  # sent, not yet handed to the recorder
        self._result_came = asyncio.Event()
        self._sending_over = False  # every sender has finished: the recorder ends once all is recorded
        self._room = asyncio.Event()
        self._warned: dict[str, datetime] = {}
        self._troubled: frozenset[str] = frozenset()  # departments with failures on record
        self._pace = Pace(per_department=self.config.department_concurrency, most=self._batch)

    # -- control ---------------------------------------------------------------------

    def request_stop(self) -> None:
        """Stop claiming; finish what is in flight; give the rest back (SIGTERM)."""
        self._stopping.set()
        self._room.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    async def _in_db(self, fn: Callable[..., T], **kwargs: Any) -> T:
        assert self._db is not None
        return await self._db.call(fn, **kwargs)

    async def run(self, *, once: bool = False, ready: Callable[[], None] | None = None) -> Stats:
        """Deliver until stopped; with ``once``, until nothing is due. ``ready`` is called once
        the database side has answered its first call (the first heartbeat, whether or not the
        database was reachable), before any claim."""
        self._db = open_database_side(self.engine, self.settings, process=self.config.database_process)
        try:
            try:
                await self._in_db(worker_db.heartbeat, now=utcnow(), **self._beat_kwargs())
            except DATABASE_TROUBLE as e:  # the claims back off until it is reachable
                log.warning("heartbeat failed: %s", _short(e), extra={"worker": self.name})
            if ready is not None:
                ready()
            await self._deliver(once=once)
        finally:
            self._db.close()
        return self.stats

    async def _deliver(self, *, once: bool) -> None:
        recorder = asyncio.create_task(self._recorder())
        heart = asyncio.create_task(self._heartbeat())
        keeper = asyncio.create_task(self._retention())
        senders = [asyncio.create_task(self._sender()) for _ in range(self.config.concurrency)]
        try:
            await self._claim_loop(once=once)
        finally:
            self._stopping.set()
            self._lanes.close()
            await asyncio.gather(*senders, return_exceptions=True)
            self._sending_over = True
            self._result_came.set()
            await recorder
            heart.cancel()
            keeper.cancel()
            await asyncio.gather(heart, keeper, return_exceptions=True)
            released = await self._retrying_db("giving claims back", worker_db.release, worker=self.name,
                                               now=self.clock())
            if released:
                log.info("gave back %d claimed notifications", released, extra={"worker": self.name})
            await self._retrying_db("heartbeat", worker_db.heartbeat, now=utcnow(), stopped=True,
                                    **self._beat_kwargs())

    async def _claim_loop(self, *, once: bool) -> None:
        failures = 0
        batch = self._batch
        while not self.stopping:
            waiting = self._lanes.waiting
            unrecorded = sum(self._outstanding.values())  # claimed, not yet recorded
            # Top the waiting jobs up when they run low, unless recording has fallen a batch
            # behind (then it catches up first: claims and records share the database side).
            room = min(batch - waiting, 2 * batch - unrecorded)
            claimed = 0
            if waiting < batch // 2 and room > 0:
                now = self.clock()
                try:
                    claim = await self._in_db(
                        worker_db.claim_work, worker=self.name, limit=room, lease=self.config.lease, now=now,
                        outstanding=dict(self._outstanding), department_cap=self._pace.least,
                        department_caps=self._pace.caps())
                    failures = 0
                except DATABASE_TROUBLE as e:
                    failures += 1
                    delay = min(2 ** failures * 0.25, 30.0)
                    log.warning("claiming failed; trying again in %.1fs: %s", delay, _short(e),
                                extra={"worker": self.name})
                    await self._sleep(delay)
                    continue
                claimed = claim.claimed
                self._took(claim, now)
                for job in claim.jobs:
                    self._outstanding[job.department_id] += 1
                    self._lanes.put(job)
            if once and not claimed and not self._outstanding:
                return
            if not claimed or self._lanes.waiting >= batch // 2:
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

    def _took(self, claim: Claim, now: datetime) -> None:
        """Learn from a claim: departments in trouble, and why some are waiting."""
        self._troubled = frozenset(claim.troubled)
        for department_id, problem in claim.blocked.items():
            last = self._warned.get(department_id)
            if last is None or now - last > timedelta(minutes=1):
                self._warned[department_id] = now
                log.error("notifications for %s are waiting: %s", department_id, problem,
                          extra={"department": department_id, "worker": self.name})
        self.stats.cancelled += claim.cancelled
        self.stats.dead += claim.dead
        self.stats.delivered += claim.emailed

    # -- delivering (event loop) -----------------------------------------------------

    async def _sender(self) -> None:
        """One of ``concurrency``: sends the jobs ``Lanes`` hands it, one at a time, until closed."""
        lanes, margin, low = self._lanes, self.config.lease_margin, self._batch // 2
        while (job := await lanes.get()) is not None:
            if lanes.waiting < low:
                self._room.set()  # time to claim more
            result: AttemptRecord | None = None
            try:
                # Not sent when stopping (given back) or with too little lease left (claimed again later).
                now = self.clock()
                if not self._stopping.is_set() and now <= job.lease_expires_at - margin:
                    result = await self._post(job, now)
            except Exception:  # a bug, not a department's failure: the lease brings the job back
                log.exception("sending %s failed unexpectedly", job.notification_id,
                              extra={"notification": job.notification_id, "worker": self.name})
            finally:
                lanes.done(job.department_id)
                if result is None:
                    self._done(job.department_id)
                else:
                    self._results.append(result)
                    self._result_came.set()

    async def _post(self, job: Job, started: datetime) -> AttemptRecord:
        webhook = job.webhook
        assert webhook is not None
        # Signed with the machine's time, which the receiver checks against its own clock.
        headers = signature_headers(job.body, msg_id=job.notification_id, at=system_now(), secrets=webhook.secrets)
        delivery = await self.sender.deliver(url=webhook.url, body=job.body, headers=headers,
                                             allow_private_network=webhook.allow_private_network)
        return AttemptRecord(uuid.UUID(job.notification_id), job.department_id, OUTCOMES[delivery.outcome], started,
                             self.clock(), delivery.status_code, delivery.latency_ms, delivery.error,
                             delivery.retry_after)

    def _done(self, department_id: str, count: int = 1) -> None:
        """``count`` of the department's claimed notifications are settled (recorded, or not sent)."""
        self._outstanding[department_id] -= count
        if self._outstanding[department_id] <= 0:
            del self._outstanding[department_id]
        self._room.set()

    # -- recording -------------------------------------------------------------------

    async def _recorder(self) -> None:
        """Records results in batches until every sender has finished and all is recorded."""
        size = self.config.record_batch
        while True:
            if not self._results:
                if self._sending_over:
                    return
                self._result_came.clear()
                await self._result_came.wait()
                continue
            if len(self._results) < size and not self.stopping:
                await asyncio.sleep(self.config.record_wait)  # let others join the first
            batch, self._results = self._results[:size], self._results[size:]
            recorded = await self._retrying_db("recording results", worker_db.record_results, worker=self.name,
                                               results=batch, now=self.clock(), troubled=self._troubled)
            self._account(batch, recorded)
            self._pace.learn(batch)
            for department_id, count in Counter(r.department_id for r in batch).items():
                self._done(department_id, count)

    async def _retrying_db(self, what: str, fn: Callable[..., T], **kwargs: Any) -> T:
        """Database work that must happen: retried with back-off through a lost connection."""
        failures = 0
        while True:
            try:
                return await self._in_db(fn, **kwargs)
            except DATABASE_TROUBLE as e:
                failures += 1
                delay = min(2 ** failures * 0.25, 30.0)
                log.warning("%s failed; trying again in %.1fs: %s", what, delay, _short(e),
                            extra={"worker": self.name})
                await asyncio.sleep(delay)

    def _account(self, batch: list[AttemptRecord], recorded: Recorded) -> None:
        """Count and log what became of each result (no personal data: ids and outcomes)."""
        troubled = set(self._troubled)
        for health in recorded.circuits:
            if health.consecutive_failures:
                troubled.add(health.department_id)
            else:
                troubled.discard(health.department_id)
            if health.opened:
                log.warning("circuit open for %s until %s after %d failures in a row", health.department_id,
                            health.circuit_open_until, health.consecutive_failures,
                            extra={"department": health.department_id, "worker": self.name})
        self._troubled = frozenset(troubled)
        for department_id in recorded.disabled:
            log.error("%s answered 410 Gone: its endpoint is disabled until an operator enables it "
                      "(tellusonce departments enable %s)", department_id, department_id,
                      extra={"department": department_id, "worker": self.name})
        for r in batch:
            stood, number, next_at = recorded.results[r.notification_id]
            if stood and r.outcome == AttemptOutcome.DELIVERED:
                self.stats.delivered += 1  # the common case: nothing to log
                continue
            extra = {"notification": r.notification_id, "department": r.department_id,
                     "outcome": r.outcome, "status_code": r.status_code, "worker": self.name}
            if not stood:
                log.warning("result for %s refused: the claim passed to another worker", r.notification_id,
                            extra=extra)
            elif r.outcome == AttemptOutcome.RETRY and next_at is not None:
                self.stats.failed += 1
                log.info("delivery of %s failed; next attempt at %s: %s", r.notification_id,
                         next_at.isoformat(), r.error, extra=extra)
            else:
                self.stats.failed += 1
                self.stats.dead += 1
                log.warning("notification %s is dead after attempt %d: %s", r.notification_id, number,
                            r.error, extra=extra)

    # -- heartbeat -------------------------------------------------------------------

    def _beat_kwargs(self) -> dict[str, Any]:
        return {"worker": self.name, "started_at": self.started_at, "delivered": self.stats.delivered,
                "failed": self.stats.failed}

    async def _heartbeat(self) -> None:
        noticed_at: float | None = None
        while True:  # the first beat was run's
            await asyncio.sleep(self.config.heartbeat_interval)
            try:
                await self._in_db(worker_db.heartbeat, now=utcnow(), **self._beat_kwargs())
            except DATABASE_TROUBLE as e:
                log.warning("heartbeat failed: %s", _short(e), extra={"worker": self.name})
            if noticed_at is None or time.monotonic() - noticed_at >= self.config.notice_sweep_interval:
                noticed_at = time.monotonic()
                await self._sweep_notices()

    async def _sweep_notices(self) -> None:
        try:
            await self._in_db(worker_db.sweep_notices, now=utcnow())
        except DATABASE_TROUBLE as e:
            log.warning("emailing report notices failed: %s", _short(e), extra={"worker": self.name})
        except Exception:  # a bug, not the database: logged, and the heartbeat beats on (tried again next time)
            log.exception("emailing report notices failed unexpectedly", extra={"worker": self.name})

    async def _retention(self) -> None:
        """Apply the retention schedule now and every ``retention_interval`` seconds, one batch per
        call to the database side, so claims and records go on between batches. Workers on other
        hosts doing the same take other rows (``tellusonce.data.retention``)."""
        while True:
            await self.apply_retention()
            await asyncio.sleep(self.config.retention_interval)

    async def apply_retention(self) -> dict[str, int]:
        removed: dict[str, int] = {}
        for rule in self.retention.rules:
            after: Any = None
            while not self.stopping:
                try:
                    batch = await self._in_db(worker_db.retention_batch, rule=rule, now=utcnow(), after=after)
                except DATABASE_TROUBLE as e:
                    log.warning("applying the retention schedule failed: %s", _short(e), extra={"worker": self.name})
                    return removed
                if batch.removed:
                    removed[rule.kind.value] = removed.get(rule.kind.value, 0) + batch.removed
                if batch.done:
                    break
                after = batch.after
        if removed:
            log.info("retention: %s", ", ".join(f"{count} {kind}" for kind, count in removed.items()),
                     extra={"worker": self.name, "event": "retention_applied", "removed": removed})
        return removed


class Lanes:
    """Jobs waiting to be sent, one lane per department.

    ``get`` hands out the next job of each department that has one waiting and fewer
    than ``per_department`` being sent, in turns, so a slow or failing department
    holds only its own lane. One queue and a few counters instead of a task and two
    semaphores per job: at thousands of jobs a second that difference is most of
    what the loop spent outside the HTTP request itself.
    """

    def __init__(self, per_department: int) -> None:
        self.per_department = per_department
        self._waiting: dict[str, deque[Job]] = {}
        self._sending: Counter[str] = Counter()
        self._turns: deque[str] = deque()  # departments with a job waiting and room to send it
        self.waiting = 0  # jobs put and not yet taken
        self._queued: set[str] = set()  # the departments in _turns
        self._changed = asyncio.Event()
        self._closed = False

    def put(self, job: Job) -> None:
        department_id = job.department_id
        lane = self._waiting.get(department_id)
        if lane is None:
            lane = self._waiting[department_id] = deque()
        lane.append(job)
        self.waiting += 1
        if department_id not in self._queued and self._sending[department_id] < self.per_department:
            self._take_turn(department_id)

    async def get(self) -> Job | None:
        """The next job to send; None once closed and nothing is waiting."""
        while not self._turns:
            if self._closed:
                return None
            self._changed.clear()
            await self._changed.wait()
        department_id = self._turns.popleft()
        lane = self._waiting[department_id]
        job = lane.popleft()
        self.waiting -= 1
        sending = self._sending[department_id] = self._sending[department_id] + 1
        if lane and sending < self.per_department:
            self._turns.append(department_id)  # its next job waits for the others' turns
        else:
            self._queued.discard(department_id)
        return job

    def done(self, department_id: str) -> None:
        self._sending[department_id] -= 1
        if department_id not in self._queued and self._waiting.get(department_id):
            self._take_turn(department_id)

    def close(self) -> None:
        self._closed = True
        self._changed.set()

    def _take_turn(self, department_id: str) -> None:
        self._turns.append(department_id)
        self._queued.add(department_id)
        self._changed.set()


class Pace:
    """How many of each department's notifications a worker may hold claimed and not yet recorded.

    Enough to keep its senders (``per_department``) busy for ``horizon`` at the pace the
    department has been answering (a claim and a record take a fraction of that): one that
    answers in milliseconds is not held to a few rounds of its senders, one that answers
    slowly holds few leases, and where several workers share the queue each takes only what it
    will soon send. Never fewer than ``least``, four rounds of its senders (also the cap of a
    department whose pace is not yet known); never more than ``most``, the jobs a worker keeps
    waiting.
    """

    def __init__(self, *, per_department: int, most: int, horizon: float = 0.5) -> None:
        self.per_department = per_department
        self.horizon = horizon
        self.least = per_department * 4
        self.most = max(most, self.least)
        self._seconds: dict[str, float] = {}  # per department: how long it takes to answer (moving average)

    def learn(self, results: Iterable[AttemptRecord]) -> None:
        """Learn from a batch's answers (a timeout counts at its full length)."""
        took: dict[str, list[float]] = {}
        for r in results:
            if r.latency_ms is not None:
                took.setdefault(r.department_id, []).append(r.latency_ms / 1000)
        for department_id, seconds in took.items():
            mean = sum(seconds) / len(seconds)
            last = self._seconds.get(department_id)
            # Slower answers count at once (leases are at stake), faster ones gradually.
            self._seconds[department_id] = mean if last is None or mean > last else 0.8 * last + 0.2 * mean

    def caps(self) -> dict[str, int]:
        """The cap of each department whose pace is known (the others': ``least``)."""
        return {department_id: max(self.least, min(self.most, int(self.per_department * self.horizon
                                                                   / max(seconds, 0.0001))))
                for department_id, seconds in self._seconds.items()}


def _short(error: BaseException) -> str:
    return str(error).splitlines()[0][:300] if str(error) else type(error).__name__
