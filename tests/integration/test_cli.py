"""The operator's command line, run as an operator would run it."""

from __future__ import annotations

from click.testing import CliRunner
from flask import Flask
from flask.cli import ScriptInfo
from sqlalchemy import select, update

from tellusonce.cli import main
from tellusonce.data.audit import record_event
from tellusonce.db import transaction
from tellusonce.models import AuditEvent


def run(app, *args):
    result = CliRunner().invoke(main, list(args), obj=ScriptInfo(create_app=lambda: app), catch_exceptions=False)
    return result


def test_db_upgrade_reports_the_database_is_current(app):
    result = run(app, "db", "upgrade")
    assert result.exit_code == 0 and "up to date" in result.output


def test_departments_sync_then_list(app):
    result = run(app, "departments", "sync")
    assert result.exit_code == 0 and "8 departments" in result.output
    listing = run(app, "departments", "list")
    assert "dvla" in listing.output and "webhook" in listing.output and "meadow-lane-surgery" in listing.output


def test_departments_sync_with_a_broken_registry_names_the_problem(app, settings, tmp_path):
    broken = tmp_path / "departments.toml"
    broken.write_text('[[department]]\nid = "x"\n')
    app.config["SETTINGS"] = settings.__class__(**{**settings.__dict__, "departments": broken})
    result = run(app, "departments", "sync")
    assert result.exit_code == 1 and "missing the field 'name'" in result.output


def test_audit_verify_passes_then_names_a_tampered_event(app, engine):
    with transaction(engine) as session:
        for i in range(3):
            record_event(session, actor="test", action="x", subject_type="t", subject_id=i)
    assert "intact: 3 events in 1 chains" in run(app, "audit", "verify").output
    with transaction(engine) as session:
        first = session.scalars(select(AuditEvent).order_by(AuditEvent.id).limit(1)).one()
        session.execute(update(AuditEvent).where(AuditEvent.id == first.id).values(actor="someone else"))
    result = run(app, "audit", "verify")
    assert result.exit_code == 1 and f"broken at event {first.id}" in result.output


def test_departments_list_flags_a_department_that_states_no_lawful_basis_or_retention(
        app: Flask, tv_licensing_states_nothing: None) -> None:
    result = CliRunner().invoke(main, ["departments", "list"], obj=ScriptInfo(create_app=lambda: app),
                                catch_exceptions=False)
    lines = {line.split()[0]: line for line in result.output.splitlines()}
    assert lines["tv-licensing"].endswith("(states no lawful basis or retention: /organisations says so)")
    assert "states no" not in lines["hmrc"]
    # HMRC states its retention in English only: a Welsh reader of /organisations gets it in English.
    assert "(no Welsh retention: shown in English)" in lines["hmrc"]


def test_departments_list_flags_a_department_without_welsh(app: Flask, tv_licensing_without_welsh: None) -> None:
    result = CliRunner().invoke(main, ["departments", "list"], obj=ScriptInfo(create_app=lambda: app),
                                catch_exceptions=False)
    lines = {line.split()[0]: line for line in result.output.splitlines()}
    assert "no Welsh name or purpose: shown in English" in lines["tv-licensing"]
    assert "Welsh" not in lines["hmrc"]
