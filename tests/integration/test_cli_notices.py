"""`tellusonce notices send`: a host without a running dispatcher emails citizens what became of their reports."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from tellusonce.cli import main
from tellusonce.db import transaction
from tellusonce.models import OutgoingEmail
from tests.dispatch_helpers import dispatch_once, submit


def _notices(engine) -> int:
    with transaction(engine, writer=False) as session:
        return session.scalar(select(func.count()).select_from(OutgoingEmail)
                              .where(OutgoingEmail.purpose == "report_notice")) or 0


def test_the_command_queues_the_emails_due_and_none_twice(committed, runner, settings, clock):
    submit(committed, ("tv-licensing",), count=3)  # the email channel: delivered is received
    dispatch_once(committed, settings)
    result = runner.invoke(main, ["notices", "send"])
    assert result.exit_code == 0, result.output
    assert "0 emails about reports queued" in result.output  # not quiet for five minutes yet
    clock.advance(timedelta(minutes=6))
    result = runner.invoke(main, ["notices", "send"])
    assert result.exit_code == 0, result.output
    assert "3 emails about reports queued" in result.output
    assert runner.invoke(main, ["notices", "send"]).output.strip() == "0 emails about reports queued"
    assert _notices(committed) == 3
