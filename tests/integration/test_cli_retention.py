"""`tellusonce retention run|report`, and a schedule with a mistake stopping every command in one line."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from click.testing import CliRunner
from flask.cli import ScriptInfo
from sqlalchemy import Engine, select

from tellusonce.cli import main
from tellusonce.clock import utcnow
from tellusonce.db import transaction
from tellusonce.models import AuditEvent, OutgoingEmail
from tellusonce.settings import PROJECT_ROOT

TELLUSONCE = Path(sys.executable).with_name("tellusonce")


def _email(engine: Engine, days_old: float) -> None:
    with transaction(engine) as session:
        at = utcnow() - timedelta(days=days_old)
        session.add(OutgoingEmail(created_at=at, purpose="confirmation", to_address="sam@example.com",
                                  subject="Your change", body_text="Dear Sam", state="sent", sent_at=at))


def invoke(app, *args: str) -> str:
    result = CliRunner().invoke(main, list(args), obj=ScriptInfo(create_app=lambda: app), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_the_report_then_a_dry_run_then_a_run_and_the_audit_verifies(app, engine) -> None:
    _email(engine, 10)
    _email(engine, 10)
    _email(engine, 0.5)
    report = invoke(app, "retention", "report")
    assert re.search(r"^outgoing_email +7 days +blank +1 +0 +2 +0 +0 +0 +0 +2$", report, re.M), report
    assert re.search(r"^closed_accounts +30 days +blank +0 +0 +0 +0 +0 +0 +0 +0$", report, re.M), report
    assert re.search(r"^data_rights_requests +2 years +delete +0 +0 +0 +0 +0 +0 +0 +0$", report, re.M), report
    assert re.search(r"^report_notices +1 year +delete +0 +0 +0 +0 +0 +0 +0 +0$", report, re.M), report
    dry = invoke(app, "retention", "run", "--dry-run")
    assert re.search(r"^outgoing_email +2 would be blanked \(from ", dry, re.M), dry
    assert "outgoing_email          0" not in invoke(app, "retention", "report")  # the dry run changed nothing
    done = invoke(app, "retention", "run", "--batch", "1")
    assert re.search(r"^outgoing_email +2 were blanked", done, re.M), done
    assert "2 removed in all; the longest batch took" in done
    assert re.search(r"^outgoing_email +2 were blanked", done, re.M)
    assert re.search(r"^outgoing_email +0 were blanked", invoke(app, "retention", "run"), re.M)
    with transaction(engine, writer=False) as session:
        counts = [e.details["count"] for e in session.scalars(select(AuditEvent).where(AuditEvent.chain == "retention"))]
        assert counts == [1, 1]
        assert len(session.scalars(select(OutgoingEmail).where(OutgoingEmail.body_text == "")).all()) == 2
    assert "Audit trail intact" in invoke(app, "audit", "verify")


def test_a_schedule_with_a_mistake_stops_every_command_in_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "retention.toml"
    broken.write_text((PROJECT_ROOT / "config" / "retention.toml").read_text(encoding="utf-8")
                      .replace('then = "blank"', 'then = "shred"', 1), encoding="utf-8")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TELLUSONCE_", "FLASK_"))}
    env = {**clean, "TELLUSONCE_MODE": "demo", "TELLUSONCE_RETENTION": str(broken),
           "TELLUSONCE_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    for command in (["retention", "report"], ["departments", "list"], ["audit", "verify"]):
        result = subprocess.run([str(TELLUSONCE), *command], cwd=tmp_path, env=env, capture_output=True, text=True,
                                timeout=60, check=False)
        assert result.returncode != 0
        assert "Traceback" not in result.stderr
        [line] = [line for line in result.stderr.splitlines() if line.strip()]
        assert re.fullmatch(rf"Error: TELLUSONCE_RETENTION: {re.escape(str(broken))}:\d+: \[inbound_processed\], "
                            r"field 'then': must be 'blank' or 'delete' for inbound_processed\.", line), line
