"""A notification planned for its change's date: the worker leaves it until it is due, then sends
it, and checks consent again when it does. The worker runs on the tests' clock (``dispatch_once``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from tellusonce.application.consent import withdraw_consent
from tellusonce.application.intake import ChangeRequest, submit_change
from tellusonce.db import transaction
from tellusonce.models import ConsentGrant, Notification, NotificationState, OutgoingEmail
from tests.dispatch_helpers import dispatch_once, notifications
from tests.factories import NOW, address_answers, make_citizen

ON_THE_DATE = datetime(2027, 2, 15, tzinfo=UTC)


def _plan(engine, recipients: tuple[str, ...]) -> list[Notification]:  # type: ignore[no-untyped-def]
    """A move on 15 February 2027 reported on 22 November 2026, each organisation told on the date."""
    with transaction(engine) as session:
        submit_change(session, make_citizen(session), ChangeRequest(
            change_type="address", answers=address_answers(move_date="2027-02-15"), recipients=list(recipients),
            consent=dict.fromkeys(recipients, "once"), submission_key="k", timing=dict.fromkeys(recipients, "on_date"),
        ), now=NOW)
    return notifications(engine)


def test_a_planned_notification_is_not_sent_before_it_is_due_and_is_sent_when_it_is(committed, settings, departments):
    [planned] = _plan(committed, ("dvla",))
    for now in (NOW, NOW + timedelta(days=40), ON_THE_DATE - timedelta(seconds=1)):
        stats = dispatch_once(committed, settings, now=now)
        assert stats.delivered == 0 and departments.received == []
    assert [n.state for n in notifications(committed)] == [NotificationState.PENDING]
    stats = dispatch_once(committed, settings, now=ON_THE_DATE + timedelta(minutes=1))
    assert stats.delivered == 1 and departments.ids("dvla") == [str(planned.id)]
    [sent] = notifications(committed)
    assert sent.state == NotificationState.DELIVERED and sent.planned_for == ON_THE_DATE


def test_the_notice_an_organisation_asks_for_brings_its_sending_forward(committed, settings, departments):
    _plan(committed, ("dvla", "leeds-council-tax"))
    dispatch_once(committed, settings, now=ON_THE_DATE - timedelta(days=14, minutes=-1))
    assert [r.department for r in departments.received] == ["leeds-council-tax"]


def test_consent_withdrawn_before_the_date_means_it_is_never_sent(committed, settings, departments):
    [planned] = _plan(committed, ("dvla",))
    with transaction(committed) as session:
        grant = session.scalars(select(ConsentGrant).where(ConsentGrant.receipt_id == planned.consent_receipt_id)).one()
        withdraw_consent(session, citizen_id=grant.citizen_id, grant_id=grant.id, now=NOW + timedelta(days=30))
    dispatch_once(committed, settings, now=ON_THE_DATE + timedelta(minutes=1))
    assert departments.received == []
    [n] = notifications(committed)
    assert n.state == NotificationState.CANCELLED


def test_an_email_department_is_emailed_on_the_date_not_before(committed, settings):
    [planned] = _plan(committed, ("tv-licensing",))
    dispatch_once(committed, settings, now=ON_THE_DATE - timedelta(hours=1))
    with transaction(committed, writer=False) as session:
        assert session.scalars(select(OutgoingEmail).where(OutgoingEmail.related_id == planned.id)).all() == []
    dispatch_once(committed, settings, now=ON_THE_DATE + timedelta(hours=1))
    with transaction(committed, writer=False) as session:
        assert len(session.scalars(select(OutgoingEmail).where(OutgoingEmail.related_id == planned.id)).all()) == 1
