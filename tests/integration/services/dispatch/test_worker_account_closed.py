"""Word that an account closed reaches each organisation that was sent anything, by webhook or by
email, although closing withdrew the consent it was sent under: the citizen asked (UK GDPR Art. 19)."""

from __future__ import annotations

import json

from sqlalchemy import select

from tellusonce.application.closing import close_account
from tellusonce.application.consent import grant_consent
from tellusonce.application.intake import ChangeRequest, submit_change
from tellusonce.clock import utcnow
from tellusonce.data.departments import get_department
from tellusonce.db import transaction
from tellusonce.domain.events import ACCOUNT_CLOSED_TYPE, parse_event
from tellusonce.mailout.render import rendered_bodies
from tellusonce.models import ChangeReport, Citizen, ConsentGrant, OutgoingEmail
from tests.dispatch_helpers import dispatch_once
from tests.factories import address_answers, make_citizen


def _standing_report_then_closed(engine, settings, department: str) -> tuple[Citizen, ChangeReport]:  # type: ignore[no-untyped-def]
    """A move sent under a standing consent and delivered; then the account closes, telling them."""
    with transaction(engine) as session:
        citizen = make_citizen(session)
        grant_consent(session, citizen_id=citizen.id, department=get_department(session, department),
                      change_types=["address"], now=utcnow())
        report = submit_change(session, citizen, ChangeRequest(
            change_type="address", answers=address_answers(), recipients=[department], submission_key="k"),
            now=utcnow()).report
    assert dispatch_once(engine, settings, now=utcnow()).delivered == 1
    with transaction(engine) as session:
        me = session.get_one(Citizen, citizen.id)
        close_account(session, me, tell_organisations=True, now=utcnow())
        assert all(g.withdrawn_at is not None for g in session.scalars(select(ConsentGrant)))
    return citizen, report


def test_a_webhook_department_is_sent_the_closure_event_although_consent_was_withdrawn(
        committed, settings, departments) -> None:
    citizen, report = _standing_report_then_closed(committed, settings, "dvla")
    assert dispatch_once(committed, settings, now=utcnow()).delivered == 1
    first, closed = departments.bodies("dvla")
    assert closed["type"] == ACCOUNT_CLOSED_TYPE and closed["subject"] == report.reference
    assert closed["dataschema"] == f"{settings.base_url}/schemas/events/account.closed.v1.json"
    assert closed["data"]["report_references"] == [report.reference]
    assert closed["data"]["consent_receipt_id"] == first["data"]["consent_receipt_id"]
    assert set(closed["data"]) == {"account_id", "report_references", "consent_receipt_id"}
    assert str(citizen.id) not in json.dumps(closed)


def test_an_email_department_gets_a_readable_word_with_the_event_attached(committed, settings) -> None:
    _citizen, report = _standing_report_then_closed(committed, settings, "tv-licensing")
    assert dispatch_once(committed, settings, now=utcnow()).delivered == 1
    with transaction(committed, writer=False) as session:
        email = session.scalars(select(OutgoingEmail).where(OutgoingEmail.subject.startswith("Account closed"))).one()
    text, _ = rendered_bodies(email)
    assert f"Reports you were sent: {report.reference}" in text
    assert "schemas/events/account.closed.v1.json" in text
    assert "Leeds" not in text  # nothing of the change itself
    event = parse_event(email.attachments[0]["content"].encode())
    assert event.get_type() == ACCOUNT_CLOSED_TYPE
