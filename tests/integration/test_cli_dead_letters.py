"""`tellusonce dead-letters`: an operator told "DVLA never got TUO-…" finds it, and replays just that one."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select, update

from tellusonce.cli import main
from tellusonce.db import transaction
from tellusonce.models import AuditEvent, ChangeReport, Notification, NotificationState
from tests.dispatch_helpers import notifications, submit
from tests.factories import NOW


def make_dead(engine, notification, *, error: str = "HTTP 503 Service Unavailable", attempts: int = 7,
              at=NOW) -> str:
    """Mark ``notification`` dead as the worker leaves one; its report's reference."""
    with transaction(engine) as session:
        session.execute(update(Notification).where(Notification.id == notification.id).values(
            state=NotificationState.DEAD, dead_at=at, attempt_count=attempts, last_error=error,
            next_attempt_at=None))
        return session.scalar(select(ChangeReport.reference).where(ChangeReport.id == notification.report_id))


def state_of(engine, notification) -> str:
    return next(n.state for n in notifications(engine) if n.id == notification.id)


def test_list_shows_each_dead_letters_report_reference_department_attempts_and_last_error(committed, runner):
    dvla, hmrc = submit(committed, ("dvla", "hmrc"))
    reference = make_dead(committed, dvla, error="HTTP 503 Service Unavailable\nfrom the gateway", attempts=7)
    make_dead(committed, hmrc, error="connection refused", attempts=1, at=NOW + timedelta(minutes=1))
    result = runner.invoke(main, ["dead-letters", "list"])
    assert result.exit_code == 0, result.output
    *rows, total = result.output.splitlines()
    [row] = [line for line in rows if str(dvla.id) in line]
    assert reference in row and "dvla" in row and "7 attempts" in row
    assert "HTTP 503 Service Unavailable from the gateway" in row  # one line a row, however the error was written
    [other] = [line for line in rows if str(hmrc.id) in line]
    assert "hmrc" in other and "1 attempt " in other and "connection refused" in other
    assert total == "2 dead letters"


def test_list_says_1_dead_letter_in_the_singular(committed, runner):
    [dvla] = submit(committed, ("dvla",))
    make_dead(committed, dvla)
    assert runner.invoke(main, ["dead-letters", "list"]).output.splitlines()[-1] == "1 dead letter"


def test_replay_with_an_id_queues_only_that_one(committed, runner):
    first, second = submit(committed, ("dvla",), count=2)
    make_dead(committed, first)
    make_dead(committed, second)
    result = runner.invoke(main, ["dead-letters", "replay", "--id", str(first.id)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "1 dead letter queued again"
    assert state_of(committed, first) == NotificationState.PENDING
    assert state_of(committed, second) == NotificationState.DEAD


def test_replay_with_an_id_that_is_no_dead_letter_says_so_and_changes_nothing(committed, runner):
    [waiting, dead] = submit(committed, ("dvla",), count=2)
    make_dead(committed, dead)
    for wanted in (str(waiting.id), str(uuid.uuid4())):
        result = runner.invoke(main, ["dead-letters", "replay", "--id", wanted])
        assert result.exit_code == 1 and f"No dead letter has the id {wanted}" in result.output
    assert state_of(committed, dead) == NotificationState.DEAD
    result = runner.invoke(main, ["dead-letters", "replay", "--id", "TUO-1234"])
    assert result.exit_code == 2 and "not a notification id" in result.output


def test_replay_dry_run_says_what_it_would_queue_and_changes_nothing(committed, runner):
    dvla, hmrc = submit(committed, ("dvla", "hmrc"))
    reference = make_dead(committed, dvla)
    make_dead(committed, hmrc)
    result = runner.invoke(main, ["dead-letters", "replay", "--department", "dvla", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert str(dvla.id) in result.output and reference in result.output and str(hmrc.id) not in result.output
    assert result.output.splitlines()[-1] == "1 dead letter would be queued again (dry run: nothing changed)"
    assert {state_of(committed, dvla), state_of(committed, hmrc)} == {NotificationState.DEAD}
    with transaction(committed, writer=False) as session:
        assert session.scalars(select(AuditEvent).where(AuditEvent.action == "dead_letters.replayed")).all() == []


def test_a_dead_letter_whose_details_retention_removed_is_listed_so_and_never_replayed(committed, runner, clock):
    kept, blanked = submit(committed, ("dvla",), count=2)
    make_dead(committed, kept)
    make_dead(committed, blanked, at=NOW - timedelta(days=91))
    result = runner.invoke(main, ["retention", "run"])
    assert result.exit_code == 0, result.output
    assert "dead_letters                   1 were blanked" in result.output
    [row] = [line for line in runner.invoke(main, ["dead-letters", "list"]).output.splitlines() if str(blanked.id) in line]
    assert "details removed by the retention schedule: cannot be replayed" in row
    dry = runner.invoke(main, ["dead-letters", "replay", "--dry-run"])
    assert str(blanked.id) not in dry.output and "1 dead letter would be queued again" in dry.output
    refused = runner.invoke(main, ["dead-letters", "replay", "--id", str(blanked.id)])
    assert refused.exit_code == 1 and "No dead letter has the id" in refused.output
    assert runner.invoke(main, ["dead-letters", "replay"]).output.strip() == "1 dead letter queued again"
    assert state_of(committed, blanked) == NotificationState.DEAD
    assert state_of(committed, kept) == NotificationState.PENDING
