"""Drill: kill -9 of a real ``tellusonce retention run`` while it blanks a closed account with
thousands of rows. The next run finishes the job; in between, nothing of the account is visible
(it cannot be signed in to, a new account with its address starts empty), and afterwards, as
throughout, ``tellusonce audit verify`` passes."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from account_helpers import PASSWORD, post_form
from sqlalchemy import Engine, func, insert, select

from tellusonce.application.closing import close_account
from tellusonce.clock import utcnow
from tellusonce.data.audit import verify_chain
from tellusonce.db import transaction
from tellusonce.domain.passwords import hash_password
from tellusonce.models import AuditEvent, ChangeReport, Citizen, Notification, NotificationState, PersonDetails
from tellusonce.settings import PROJECT_ROOT
from tests.conftest import TEST_SECRET_KEY
from tests.dispatch_helpers import wait_for
from tests.factories import address_answers, clock_env, make_citizen

pytestmark = pytest.mark.slow

REPORTS = 3000
ADDRESS = "lin@example.org"


def _env(database_url: str, tmp_path: Path) -> dict[str, str]:
    return dict(os.environ, **clock_env(), TELLUSONCE_MODE="test", TELLUSONCE_SECRET_KEY=TEST_SECRET_KEY,
                TELLUSONCE_DATABASE_URL=database_url, TELLUSONCE_INSTANCE_PATH=str(tmp_path / "instance"))


def _tellusonce(*args: str) -> list[str]:
    return [sys.executable, "-m", "tellusonce.cli", *args]


def _big_closed_account(engine: Engine) -> uuid.UUID:
    """An account with ``REPORTS`` reports, each about someone and delivered to HMRC, closed long ago."""
    now = utcnow()
    with transaction(engine) as session:
        citizen = make_citizen(session, email=ADDRESS, password_hash=hash_password(PASSWORD))
        people = [{"id": uuid.uuid4(), "reported_by_id": citizen.id, "given_names": "Mei", "family_name": "Lin",
                   "relationship": "parent", "created_at": now, "updated_at": now} for _ in range(REPORTS)]
        session.execute(insert(PersonDetails), people)
        reports = [{"id": uuid.uuid4(), "reference": f"TUO-{secrets.token_hex(5).upper()}", "citizen_id": citizen.id,
                    "change_type": "address", "channel": "web", "submission_key": f"k{i}", "fingerprint": f"f{i}",
                    "state": "submitted", "answers": address_answers(address_line_1=f"{i} Mill Lane"),
                    "subject": "other", "subject_person_id": people[i]["id"], "submitted_at": now,
                    "created_at": now, "updated_at": now} for i in range(REPORTS)]
        session.execute(insert(ChangeReport), reports)
        session.execute(insert(Notification), [
            {"id": uuid.uuid4(), "report_id": r["id"], "citizen_id": citizen.id, "department_id": "hmrc",
             "change_type": "address", "kind": "change", "state": NotificationState.DELIVERED,
             "payload": {"address_line_1": r["answers"]["address_line_1"], "postcode": "LS11 5PS"},
             "consent_receipt_id": uuid.uuid4(), "attempt_count": 1, "delivered_at": now,
             "created_at": now, "updated_at": now} for r in reports])
        close_account(session, citizen, tell_organisations=True, now=now - timedelta(days=31))
        return citizen.id


def _blanking_batches(engine: Engine) -> int:
    with transaction(engine, writer=False) as session:
        return session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.chain == "retention", AuditEvent.action == "retention.blanked",
            AuditEvent.subject_id == "closed_accounts")) or 0


def _answers_left(engine: Engine, citizen_id: uuid.UUID) -> int:
    with transaction(engine, writer=False) as session:
        return sum(1 for answers in session.scalars(select(ChangeReport.answers)
                                                    .where(ChangeReport.citizen_id == citizen_id))
                   if any(v is not None for v in answers.values()))


def test_kill_9_while_blanking_a_closed_account_and_the_next_run_finishes_it(
        app, client, engine, database_url, tmp_path) -> None:
    citizen_id = _big_closed_account(engine)
    env = _env(database_url, tmp_path)
    with (tmp_path / "first-run.log").open("wb") as log:
        doomed = subprocess.Popen(_tellusonce("retention", "run", "--batch", "10"), cwd=PROJECT_ROOT, env=env,
                                  stdout=log, stderr=log)
        try:
            wait_for(lambda: _blanking_batches(engine) >= 5, timeout=120)
            doomed.kill()  # SIGKILL: mid-batch, no chance to finish anything
            doomed.wait(timeout=30)
        finally:
            if doomed.poll() is None:
                doomed.kill()
                doomed.wait(timeout=30)
    left = _answers_left(engine, citizen_id)
    assert 0 < left < REPORTS, (left, (tmp_path / "first-run.log").read_text())  # killed half-way
    with transaction(engine, writer=False) as session:
        assert session.get_one(Citizen, citizen_id).erased_at is None
        assert verify_chain(session).ok

    # In between, nothing of the account shows: no sign-in, and its address makes an empty account.
    assert post_form(client, "/account/sign-in", {"email": ADDRESS, "password": PASSWORD}).status_code == 200
    assert client.get("/account/details").status_code == 302
    with transaction(engine) as session:
        fresh = make_citizen(session, email=ADDRESS)
        assert not session.scalars(select(ChangeReport).where(ChangeReport.citizen_id == fresh.id)).all()

    finished = subprocess.run(_tellusonce("retention", "run", "--batch", "500"), cwd=PROJECT_ROOT, env=env,
                              capture_output=True, text=True, timeout=300, check=False)
    assert finished.returncode == 0, finished.stderr
    assert "closed_accounts" in finished.stdout
    assert _answers_left(engine, citizen_id) == 0
    with transaction(engine, writer=False) as session:
        gone = session.get_one(Citizen, citizen_id)
        assert gone.erased_at is not None and gone.given_names is None and gone.password_hash is None
        assert not session.scalars(select(PersonDetails.id).where(PersonDetails.reported_by_id == citizen_id,
                                                                  PersonDetails.given_names != "")).all()
        payloads = session.scalars(select(Notification.payload).where(Notification.citizen_id == citizen_id,
                                                                      Notification.kind == "change")).all()
        assert len(payloads) == REPORTS and all(set(p.values()) == {None} for p in payloads)
    audit = subprocess.run(_tellusonce("audit", "verify"), cwd=PROJECT_ROOT, env=env, capture_output=True,
                           text=True, timeout=120, check=False)
    assert audit.returncode == 0 and "Audit trail intact" in audit.stdout, audit.stdout + audit.stderr
