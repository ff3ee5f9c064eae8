"""The worker's database side: claim, record, give back, beat.

Each function is one transaction and takes and returns plain values: the event
loop never touches a session. They run on the worker's database side, which is
one of two things (``open_database_side``):

- ``DatabaseProcess``: a process of its own, spawned by the worker (so it
  inherits no threads, locks or connections), that runs one call at a time.
  Its Python then runs on another core instead of taking turns with the event
  loop for one interpreter lock; that is most of what a worker spends per
  notification besides the HTTP request. Its log records are relayed to the
  worker's own handlers; it ignores SIGINT and SIGTERM (a Ctrl-C, or a service
  manager stopping the whole process group, reaches the worker, which records its
  last results and gives its claims back through it) and ends when the worker
  does, even after a kill -9. If it dies, the call fails like a lost connection
  and the next call starts another.
- ``DatabaseThread``: one thread beside the event loop, for a machine with one
  core (where a second process only adds the hand-over) and for tests that
  look inside the worker.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import multiprocessing
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from logging.handlers import QueueHandler, QueueListener
from typing import Any, TypeVar

from sqlalchemy import Engine

from tellusonce.application.retention import Batch, run_batch
from tellusonce.data.dispatch import Health, beat, department_channels, disable_endpoint, note_delivery_health
from tellusonce.data.outbox import AttemptRecord, AttemptResult, record_attempts, release_claims
from tellusonce.db import make_engine, transaction
from tellusonce.domain.retention import Rule
from tellusonce.models import AttemptOutcome
from tellusonce.settings import Settings
from tellusonce_services.dispatch.jobs import Claim, claim_jobs, note_recorded
from tellusonce_services.dispatch.notices import send_due_notices
from tellusonce_services.dispatch.retry import next_attempt_at

T = TypeVar("T")


@dataclass(frozen=True)
class DbContext:
    engine: Engine
    settings: Settings


def claim_work(ctx: DbContext, *, worker: str, limit: int, lease: timedelta, now: datetime,
               outstanding: dict[str, int], department_cap: int, department_caps: dict[str, int]) -> Claim:
    with transaction(ctx.engine) as session:
        claim = claim_jobs(session, worker=worker, settings=ctx.settings, limit=limit, lease=lease, now=now,
                           outstanding=outstanding, department_cap=department_cap, department_caps=department_caps)
    claim.settled = []  # recorded already; nothing to send back
    return claim


@dataclass
class Recorded:
    # notification id -> (the result stood, attempt number, next attempt if retried)
    results: dict[uuid.UUID, AttemptResult] = field(default_factory=dict)
    circuits: list[Health] = field(default_factory=list)  # departments whose breaker changed
    disabled: list[str] = field(default_factory=list)  # departments that answered 410 Gone


def record_results(ctx: DbContext, *, worker: str, results: list[AttemptRecord], now: datetime,
                   troubled: frozenset[str]) -> Recorded:
    """Record a batch of results, move the notifications on, and feed the circuit breakers.

    ``troubled`` are the departments with failures on record: a success elsewhere
    has nothing to reset, so it costs no write.
    """
    recorded = Recorded()
    with transaction(ctx.engine) as session:
        # A retry's next time follows the schedule from its attempt number (known only when recorded).
        recorded.results = record_attempts(session, results, worker=worker, now=now,
                                           schedule=partial(_retry_time, now=now))
        # Outcomes the citizen may be emailed about mark their reports, in this same transaction.
        note_recorded(session, results, recorded.results, channels=department_channels(session), now=now)
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


def _retry_time(number: int, retry_after: float | None, *, now: datetime) -> datetime | None:
    return next_attempt_at(number, now=now, retry_after=retry_after)


def release(ctx: DbContext, *, worker: str, now: datetime) -> int:
    with transaction(ctx.engine) as session:
        return release_claims(session, worker=worker, now=now)


def heartbeat(ctx: DbContext, *, worker: str, started_at: datetime, now: datetime, delivered: int,
              failed: int, stopped: bool = False) -> None:
    with transaction(ctx.engine) as session:
        beat(session, worker=worker, started_at=started_at, now=now, delivered=delivered, failed=failed,
             stopped=stopped)



def retention_batch(ctx: DbContext, *, rule: Rule, now: datetime, after: Any) -> Batch:
    """One batch of the retention schedule for one kind of data, in a transaction of its own."""
    with transaction(ctx.engine) as session:
        return run_batch(session, rule, now=now, after=after)


def sweep_notices(ctx: DbContext, *, now: datetime) -> int:
    """Email citizens whose reports have had outcomes and been quiet since (services/dispatch/notices.py)."""
    with transaction(ctx.engine) as session:
        return send_due_notices(session, settings=ctx.settings, now=now)

# -- where the database side runs -------------------------------------------------------


class DatabaseThread:
    """The database side on one thread beside the event loop."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self._context = DbContext(engine, settings)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tellusonce-db")

    async def call(self, fn: Callable[..., T], /, **kwargs: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, partial(fn, self._context, **kwargs))

    def close(self) -> None:
        self._executor.shutdown(wait=True)


class DatabaseProcess:
    """The database side in a process of its own (see the module's docstring), with an engine
    of its own made from the worker's engine's URL."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self._url = engine.url.render_as_string(hide_password=False)
        self._settings = settings
        self._mp = multiprocessing.get_context("spawn")
        self._logs = self._mp.Queue()
        self._relay = QueueListener(self._logs, _Relay())
        self._relay.start()
        self._executor: Executor = self._start()

    def _start(self) -> Executor:
        return ProcessPoolExecutor(max_workers=1, mp_context=self._mp, initializer=_start_process,
                                   initargs=(self._url, self._settings, self._logs, os.getpid(),
                                             logging.getLogger().getEffectiveLevel()))

    async def call(self, fn: Callable[..., T], /, **kwargs: Any) -> T:
        executor = self._executor
        try:
            return await asyncio.get_running_loop().run_in_executor(executor, partial(_in_process, fn, kwargs))
        except BrokenProcessPool:
            # It died (killed, out of memory): what it had not committed is rolled back, and
            # what it had claimed comes back when the leases end. The caller retries.
            if executor is self._executor:
                executor.shutdown(wait=False)
                self._executor = self._start()
            raise

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        self._relay.stop()
        self._logs.close()
        self._logs.join_thread()


def open_database_side(engine: Engine, settings: Settings, *, process: bool) -> DatabaseThread | DatabaseProcess:
    return DatabaseProcess(engine, settings) if process else DatabaseThread(engine, settings)


class _Relay(logging.Handler):
    """Hands a record from the database process to the logger of the same name here."""

    def emit(self, record: logging.LogRecord) -> None:
        logging.getLogger(record.name).handle(record)


_process_context: DbContext | None = None  # in the database process: its engine and settings


def _start_process(url: str, settings: Settings, logs: Any, parent: int, level: int) -> None:
    global _process_context
    # Stopping is the worker's to decide: it still needs this process to record and give back.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    root = logging.getLogger()
    root.handlers[:] = [QueueHandler(logs)]
    root.setLevel(level)
    threading.Thread(target=_end_with, args=(parent,), name="tellusonce-db-watch", daemon=True).start()
    _process_context = DbContext(make_engine(url), settings)
    gc.freeze()  # as the worker does (tune_process): full collections skip what import made


def _end_with(parent: int) -> None:
    """Ends this process once the worker that started it is gone (even killed with -9)."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


def _in_process(fn: Callable[..., T], kwargs: dict[str, Any]) -> T:
    assert _process_context is not None
    return fn(_process_context, **kwargs)
