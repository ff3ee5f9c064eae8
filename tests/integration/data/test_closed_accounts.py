"""The retention run blanks a closed account once its period has passed: its details, its reports'
answers, the people it reported about, what organisations were sent, its sign-ins; the rows that
say who was told what and when stay, and the audit chain still verifies."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import Engine, select, update

from tellusonce.application.closing import close_account
from tellusonce.application.intake import ChangeRequest, submit_change
from tellusonce.application.retention import retention_report, run_retention
from tellusonce.clock import utcnow
from tellusonce.config_files import load_schedule
from tellusonce.data.audit import verify_chain
from tellusonce.db import transaction
from tellusonce.domain.retention import Kind
from tellusonce.models import (
    AuditEvent,
    ChangeReport,
    Citizen,
    ConsentEvent,
    Notification,
    NotificationState,
    PersonDetails,
    SignInEvent,
)
from tellusonce.settings import PROJECT_ROOT
from tests.factories import address_answers, death_answers, make_citizen

SCHEDULE = load_schedule(PROJECT_ROOT / "config" / "retention.toml")
PERIOD = SCHEDULE.rule(Kind.CLOSED_ACCOUNTS).keep


def _closed_account(engine: Engine, *, reports: int, closed_days_ago: float) -> Citizen:
    """An account with ``reports`` moves (each sent to HMRC) and one death reported, closed then."""
    now = utcnow()
    with transaction(engine) as session:
        citizen = make_citizen(session)
        for i in range(reports):
            submit_change(session, citizen, ChangeRequest(
                change_type="address", answers=address_answers(address_line_1=f"{i + 1} Mill Lane"),
                recipients=["hmrc"], consent={"hmrc": "once"}, submission_key=f"m{i}"), now=now)
        submit_change(session, citizen, ChangeRequest(
            change_type="death", answers=death_answers(), recipients=["hmrc"], consent={"hmrc": "once"},
            submission_key="d"), now=now)
        session.execute(update(Notification).where(Notification.citizen_id == citizen.id)
                        .values(state=NotificationState.DELIVERED, delivered_at=now, next_attempt_at=None))
        session.add(SignInEvent(citizen_id=citizen.id, at=now, method="password", succeeded=True))
        session.flush()
        close_account(session, citizen, tell_organisations=True, now=now - timedelta(days=closed_days_ago))
        session.expunge(citizen)
    return citizen


def _run(engine: Engine, limit: int = 500):  # type: ignore[no-untyped-def]
    return run_retention(lambda: transaction(engine), SCHEDULE, now=utcnow, limit=limit,
                         kinds=[Kind.CLOSED_ACCOUNTS])


def test_a_closed_account_is_blanked_after_its_period_and_not_before(committed: Engine) -> None:
    due = _closed_account(committed, reports=3, closed_days_ago=PERIOD.days + 1)
    not_yet = _closed_account(committed, reports=1, closed_days_ago=PERIOD.days - 1)
    result = _run(committed, limit=2)
    assert [(k.kind, k.removed) for k in result.kinds] == [(Kind.CLOSED_ACCOUNTS, 1)]
    with transaction(committed, writer=False) as session:
        gone = session.get(Citizen, due.id)
        assert gone.erased_at is not None
        assert (gone.given_names, gone.family_name, gone.date_of_birth, gone.ni_number, gone.address_line_1,
                gone.postcode, gone.phone, gone.password_hash) == (None,) * 8
        reports = session.scalars(select(ChangeReport).where(ChangeReport.citizen_id == due.id)).all()
        assert len(reports) == 4  # kept: the references organisations were sent
        assert all(r.answers and set(r.answers.values()) == {None} and r.declaration is None for r in reports)
        assert all(p.given_names == "" and p.date_of_birth is None for p in
                   session.scalars(select(PersonDetails).where(PersonDetails.reported_by_id == due.id)))
        sent = session.scalars(select(Notification).where(Notification.citizen_id == due.id,
                                                          Notification.kind == "change")).all()
        assert len(sent) == 4 and all(n.state == "delivered" and set(n.payload.values()) == {None} for n in sent)
        [closure] = session.scalars(select(Notification).where(Notification.citizen_id == due.id,
                                                               Notification.kind == "account_closed")).all()
        assert closure.state == "pending" and closure.payload["report_references"]  # still to be delivered
        assert not session.scalars(select(SignInEvent).where(SignInEvent.citizen_id == due.id)).all()
        assert session.scalars(select(ConsentEvent).where(ConsentEvent.citizen_id == due.id)).all()  # the receipts
        kept = session.get(Citizen, not_yet.id)
        assert kept.erased_at is None and kept.given_names == "Amara"
        events = session.scalars(select(AuditEvent).where(AuditEvent.chain == "retention")
                                 .order_by(AuditEvent.id)).all()
        parts = [(e.details["part"], e.details["count"]) for e in events]
        assert parts == [("reports", 2), ("reports", 2), ("people", 1), ("notifications", 2),
                         ("notifications", 2), ("sign_ins", 1), ("account", 1)]
        assert "Amara" not in json.dumps([e.details for e in events])
        assert verify_chain(session).ok
    assert _run(committed).kinds[0].removed == 0  # nothing twice


def test_the_report_and_a_dry_run_count_closed_accounts_not_yet_blanked(committed: Engine) -> None:
    _closed_account(committed, reports=1, closed_days_ago=PERIOD.days + 1)
    _closed_account(committed, reports=1, closed_days_ago=1.5)
    with transaction(committed, writer=False) as session:
        report = retention_report(session, SCHEDULE, now=utcnow())
    row = next(k for k in report.kinds if k.kind == Kind.CLOSED_ACCOUNTS)
    assert sum(row.by_age) == 2 and row.due == 1
    dry = run_retention(lambda: transaction(committed, writer=False), SCHEDULE, now=utcnow, dry_run=True,
                        kinds=[Kind.CLOSED_ACCOUNTS])
    assert dry.kinds[0].removed == 1
    _run(committed)
    with transaction(committed, writer=False) as session:
        row = next(k for k in retention_report(session, SCHEDULE, now=utcnow()).kinds if k.kind == Kind.CLOSED_ACCOUNTS)
    assert sum(row.by_age) == 1 and row.due == 0
