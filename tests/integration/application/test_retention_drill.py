"""Drill: ``tellusonce retention run`` killed with SIGKILL in the middle of its work, then run again.

A real process works through many expired rows in small batches; once some batches have committed
(their audit events are there) it is killed -9. What it left is whole: every email either still
holds its content or is blanked throughout, and exactly as many are blanked as the committed audit
events say; every audit chain left still verifies. The next run finishes the job, and
``tellusonce audit verify`` passes. Notifications still waiting to be delivered, old as their
times are, are never touched.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, insert, select, update

from tellusonce.clock import utcnow
from tellusonce.data.audit import record_event, verify_chain
from tellusonce.data.retention import HASHED
from tellusonce.db import transaction
from tellusonce.models import AuditEvent, Notification, OutgoingEmail
from tellusonce.settings import PROJECT_ROOT
from tests.dispatch_helpers import submit, wait_for
from tests.factories import clock_env

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]  # 20,000 rows and three processes, on a busy machine

EMAILS = 20_000
CHAINS = 200
BATCH = "25"


def _env(database_url: str, tmp_path: Path) -> dict[str, str]:
    return dict(os.environ, **clock_env(), TELLUSONCE_MODE="test", TELLUSONCE_DATABASE_URL=database_url,
                TELLUSONCE_INSTANCE_PATH=str(tmp_path / "instance"))


def _tellusonce(database_url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tellusonce.cli", *args], cwd=PROJECT_ROOT,
                          env=_env(database_url, tmp_path), capture_output=True, text=True, timeout=600, check=False)


def _seed(engine: Engine) -> list[uuid.UUID]:
    """Many emails past their period, old audit chains, and notifications still to deliver whose every time is old."""
    old = utcnow() - timedelta(days=400)
    with transaction(engine) as session:
        session.execute(insert(OutgoingEmail), [
            {"id": uuid.uuid4(), "created_at": old, "purpose": "confirmation",
             "to_address": f"person{i}@example.com", "subject": "Your change", "body_text": f"Dear person {i}",
             "state": "sent", "sent_at": old} for i in range(EMAILS)])
        for c in range(CHAINS):
            for minutes in (3, 2, 1):
                record_event(session, actor=f"citizen:drill-{c}", action="account.updated", subject_type="citizen",
                             subject_id=f"drill-{c}", at=old.replace(year=old.year - 7) - timedelta(minutes=minutes))
    waiting = [n.id for n in submit(engine, ("dvla", "hmrc"), count=3, now=utcnow())]
    times = {column: old for column in ("created_at", "delivered_at", "acknowledged_at", "dead_at", "cancelled_at")}
    with transaction(engine) as session:
        session.execute(update(Notification).where(Notification.id.in_(waiting)).values(state="retrying", **times))
    return waiting


def _committed_batches(engine: Engine) -> int:
    with transaction(engine, writer=False) as session:
        return session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.chain == "retention")) or 0


def _blanked_as_recorded(engine: Engine) -> int:
    """Every email whole (held, or blanked in every field), and as many blanked as the audit says."""
    with transaction(engine, writer=False) as session:
        rows = session.execute(select(OutgoingEmail.to_address, OutgoingEmail.subject, OutgoingEmail.body_text)).all()
        blanked = [r for r in rows if r.to_address.startswith(HASHED)]
        assert all(r.subject == "" and r.body_text == "" for r in blanked)  # no row half-blanked
        held = [r for r in rows if not r.to_address.startswith(HASHED)]
        assert all(r.body_text.startswith("Dear person") and r.subject for r in held)
        recorded = sum(e.details["count"] for e in session.scalars(
            select(AuditEvent).where(AuditEvent.chain == "retention", AuditEvent.subject_id == "outgoing_email")))
        assert recorded == len(blanked)
        result = verify_chain(session)
        assert result.ok, result.problem
        return len(blanked)


def _still_waiting(engine: Engine, waiting: list[uuid.UUID]) -> None:
    with transaction(engine, writer=False) as session:
        for key in waiting:
            notification = session.get(Notification, key)
            assert notification is not None and notification.state == "retrying"
            assert any(value is not None for value in notification.payload.values())


def test_a_run_killed_mid_way_leaves_every_batch_whole_and_the_next_run_finishes(
        committed: Engine, database_url: str, tmp_path: Path) -> None:
    waiting = _seed(committed)
    command = [sys.executable, "-m", "tellusonce.cli", "retention", "run", "--batch", BATCH]
    with (tmp_path / "run.log").open("wb") as log:
        doomed = subprocess.Popen(command, cwd=PROJECT_ROOT, env=_env(database_url, tmp_path), stdout=log, stderr=log)
        try:
            wait_for(lambda: _committed_batches(committed) >= 20 or doomed.poll() is not None, timeout=120,
                     interval=0.01)
            doomed.kill()  # SIGKILL: no chance to finish its batch, roll back politely or say anything
        finally:
            doomed.wait(timeout=30)
    assert doomed.returncode == -9, (tmp_path / "run.log").read_text(errors="replace")
    blanked = _blanked_as_recorded(committed)
    assert 0 < blanked < EMAILS  # it was stopped in the middle
    _still_waiting(committed, waiting)

    again = _tellusonce(database_url, tmp_path, "retention", "run", "--batch", "500")
    assert again.returncode == 0, again.stderr
    assert f"{EMAILS - blanked} were blanked" in " ".join(again.stdout.split())
    assert _blanked_as_recorded(committed) == EMAILS
    with transaction(committed, writer=False) as session:
        assert not session.scalars(select(AuditEvent.id).where(AuditEvent.chain.like("citizen:drill-%"))).all()
    _still_waiting(committed, waiting)
    verified = _tellusonce(database_url, tmp_path, "audit", "verify")
    assert verified.returncode == 0 and "Audit trail intact" in verified.stdout, verified.stderr
