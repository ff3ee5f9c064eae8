"""Small builders for test data, written through the models as the service would."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tellusonce.application.intake import ChangeRequest, submit_change
from tellusonce.clock import system_now, utcnow
from tellusonce.models import ChangeReport, Citizen, Notification

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def clock_env() -> dict[str, str]:
    """The environment that gives a process a test starts the test's clock (see conftest's ``clock``)."""
    return {"TELLUSONCE_CLOCK_OFFSET": str(round((utcnow() - system_now()).total_seconds()))}


def make_citizen(session: Session, **overrides: Any) -> Citizen:
    values: dict[str, Any] = {
        "email": f"citizen-{uuid.uuid4().hex[:12]}@example.org",
        "email_verified_at": NOW,
        "given_names": "Amara",
        "family_name": "Okafor",
        "date_of_birth": date(1988, 4, 12),
        "ni_number": "AB123456C",
        "address_line_1": "12 Hill Street",
        "town": "Leeds",
        "postcode": "LS1 1AA",
        "phone": "+447911123456",
    }
    values.update(overrides)
    citizen = Citizen(**values)
    session.add(citizen)
    session.flush()
    return citizen


def address_answers(**overrides: Any) -> dict[str, Any]:
    answers: dict[str, Any] = {
        "address_line_1": "4 Canal Wharf",
        "town": "Leeds",
        "postcode": "LS11 5PS",
        "move_date": "2026-11-15",
    }
    answers.update(overrides)
    return answers


def death_answers(**overrides: Any) -> dict[str, Any]:
    answers: dict[str, Any] = {
        "deceased_given_names": "Grace",
        "deceased_family_name": "Okafor",
        "deceased_date_of_birth": "1941-02-03",
        "date_of_death": "2026-11-10",
        "deceased_address_line_1": "7 Elm Road",
        "deceased_town": "Leeds",
        "deceased_postcode": "LS6 2AB",
        "reporter_relationship": "child",
        "authority_declared": True,
    }
    answers.update(overrides)
    return answers


def set_copy_state(session: Session, report: ChangeReport, department: str, state: str, **values: Any) -> None:
    """Put ``department``'s notifications of ``report`` in ``state`` (as the dispatcher would have)."""
    session.execute(update(Notification).where(Notification.report_id == report.id,
                                               Notification.department_id == department)
                    .values(state=state, **values))


def by_department(session: Session, report: ChangeReport) -> dict[str, list[Notification]]:
    """``report``'s notifications as they now stand, per department, oldest first."""
    session.expire_all()
    found: dict[str, list[Notification]] = {}
    for n in session.scalars(select(Notification).where(Notification.report_id == report.id)
                             .order_by(Notification.created_at)):
        found.setdefault(n.department_id, []).append(n)
    return found


def reported_move(session: Session, recipients: list[str], **answers: Any) -> tuple[Citizen, ChangeReport]:
    """A new citizen's move (``address_answers(**answers)``) reported at ``NOW`` to ``recipients``, with
    one-off consent: the citizen and the report."""
    citizen = make_citizen(session)
    result = submit_change(session, citizen, ChangeRequest(
        change_type="address", answers=address_answers(**answers), recipients=recipients,
        consent={d: "once" for d in recipients}, submission_key="k"), now=NOW)
    return citizen, result.report


# A move reported ahead of its date, each organisation told now or on the date as ``timing`` says.
PLANNED_MOVE = "2027-02-15"
PLANNED_DAY = datetime(2027, 2, 15, tzinfo=UTC)  # midnight in the UK in winter
PLANNED_TOLD = ["dvla", "hmrc", "leeds-council-tax", "meadow-lane-surgery"]


def planned_request(timing: dict[str, str], **overrides: Any) -> ChangeRequest:
    values: dict[str, Any] = dict(change_type="address", answers=address_answers(move_date=PLANNED_MOVE),
                                  recipients=PLANNED_TOLD, consent={d: "once" for d in PLANNED_TOLD},
                                  submission_key="k", timing=timing)
    values.update(overrides)
    return ChangeRequest(**values)


def queued_notifications(session: Session) -> dict[str, Notification]:
    """Every notification as it now stands, by department (one a department: the last read)."""
    session.expire_all()
    return {n.department_id: n for n in session.scalars(select(Notification))}
