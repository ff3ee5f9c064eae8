"""Applying the retention schedule: each kind removed after its period and not before, dry runs,
runs in parallel, waiting notifications untouched, and the audit events that say what went."""

from __future__ import annotations

import json
import secrets
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, delete, select, update

from tellusonce.application.retention import RunResult, retention_report, run_retention
from tellusonce.clock import utcnow
from tellusonce.config_files import load_schedule
from tellusonce.data.audit import record_event, verify_chain
from tellusonce.data.outbox import replay_dead
from tellusonce.db import transaction
from tellusonce.domain.retention import Kind
from tellusonce.models import (
    AuditEvent,
    ChangeReport,
    DataRightsRequest,
    DeliveryAttempt,
    EmailToken,
    InboundMessage,
    Notification,
    OutgoingEmail,
    ReportJourney,
    ReportNotice,
    SignInEvent,
)
from tellusonce.settings import PROJECT_ROOT
from tests.dispatch_helpers import notifications, submit
from tests.factories import make_citizen

SCHEDULE = load_schedule(PROJECT_ROOT / "config" / "retention.toml")
SENDER = "someone@example.com"


def run(engine: Engine, *kinds: Kind, dry_run: bool = False, limit: int = 500) -> RunResult:
    return run_retention(lambda: transaction(engine, writer=not dry_run), SCHEDULE, now=utcnow, dry_run=dry_run,
                         limit=limit, kinds=kinds or None)


def cutoff(kind: Kind) -> datetime:
    return SCHEDULE.rule(kind).keep.cutoff(utcnow())


# -- one row of each kind, made at a given time, and whether it is still held ------------


def _journey(engine: Engine, at: datetime) -> Any:
    with transaction(engine) as session:
        citizen = make_citizen(session)
        journey = ReportJourney(id=secrets.token_hex(16), citizen_id=citizen.id, state={"answers": {"town": "Leeds"}},
                                started_at=at, updated_at=at, expires_at=at + timedelta(days=1))
        session.add(journey)
    return journey.id


def _inbound(status: str) -> Callable[[Engine, datetime], Any]:
    def make(engine: Engine, at: datetime) -> Any:
        with transaction(engine) as session:
            message = InboundMessage(received_at=at - timedelta(minutes=5), processed_at=at, peer="192.0.2.1",
                                     mail_from=SENDER, rcpt_tos=["changes@tellusonce.test"], size=40,
                                     raw=b"From: someone@example.com\r\n\r\nI moved.", status=status,
                                     from_address=SENDER, subject="I moved")
            session.add(message)
        return message.id
    return make


def _outgoing(engine: Engine, at: datetime) -> Any:
    with transaction(engine) as session:
        email = OutgoingEmail(created_at=at, purpose="confirmation", to_address=SENDER, subject="Your change",
                              body_text="Dear Sam, you moved to 1 High Street.", state="sent", sent_at=at)
        session.add(email)
    return email.id


def _token(engine: Engine, at: datetime) -> Any:
    with transaction(engine) as session:
        citizen = make_citizen(session)
        token = EmailToken(citizen_id=citizen.id, purpose="verify_email", token_hash=secrets.token_hex(32),
                           created_at=at - timedelta(hours=1), expires_at=at)
        session.add(token)
    return token.id


def _notification(state: str, **times: str) -> Callable[[Engine, datetime], Any]:
    def make(engine: Engine, at: datetime) -> Any:
        before = {n.id for n in notifications(engine)}
        [notification] = [n for n in submit(engine, ("dvla",), count=1) if n.id not in before]
        with transaction(engine) as session:
            session.execute(update(Notification).where(Notification.id == notification.id)
                            .values(state=state, next_attempt_at=None, **{column: at for column in times.values()}))
        return notification.id
    return make


def _attempt(engine: Engine, at: datetime) -> Any:
    notification_id = _notification("delivered", when="delivered_at")(engine, at)
    with transaction(engine) as session:
        attempt = DeliveryAttempt(notification_id=notification_id, number=1, worker="w", started_at=at,
                                  finished_at=at, outcome="delivered", status_code=200, latency_ms=5)
        session.add(attempt)
    return attempt.id


def _audit_chain(engine: Engine, at: datetime) -> Any:
    chain = f"citizen:{uuid.uuid4()}"
    with transaction(engine) as session:
        for minutes in (30, 20, 10):
            record_event(session, actor=chain, action="account.updated", subject_type="citizen", subject_id=chain,
                         at=at - timedelta(minutes=minutes))
        record_event(session, actor=chain, action="account.updated", subject_type="citizen", subject_id=chain, at=at)
    return chain


def _sign_in(engine: Engine, at: datetime) -> Any:
    with transaction(engine) as session:
        citizen = make_citizen(session, email=f"signs-{uuid.uuid4().hex[:8]}@example.org")
        event = SignInEvent(citizen_id=citizen.id, at=at, method="password", succeeded=True, browser="Firefox",
                            system="Linux")
        session.add(event)
        session.flush()
        return event.id


def _request(state: str) -> Callable[[Engine, datetime], Any]:
    def make(engine: Engine, at: datetime) -> Any:
        inbound = _inbound("processed")(engine, at - timedelta(days=20))
        with transaction(engine) as session:
            request = DataRightsRequest(inbound_id=inbound, received_at=at - timedelta(days=20), from_address=SENDER,
                                        rights=["access"], language="en", due_on=(at + timedelta(days=10)).date(),
                                        state=state, closed_at=at if state == "closed" else None,
                                        closed_by="operator" if state == "closed" else None)
            session.add(request)
        return request.id
    return make


def _notice(engine: Engine, at: datetime, *, state: str = "delivered") -> Any:
    """A report told to one organisation (its notification in ``state``), the citizen emailed about it at ``at``."""
    notification_id = _notification(state, when="delivered_at")(engine, at)
    with transaction(engine) as session:
        report_id = session.get(Notification, notification_id).report_id
        session.add(ReportNotice(report_id=report_id, changed_at=None, first_changed_at=None, emailed_at=at,
                                 told={"all_received": True, "others_received": True, "failures": []}))
    return report_id


def _held(engine: Engine, kind: Kind, key: Any) -> bool:
    with transaction(engine, writer=False) as session:
        if kind == Kind.JOURNEYS:
            return session.get(ReportJourney, key) is not None
        if kind in (Kind.INBOUND_PROCESSED, Kind.INBOUND_QUARANTINED):
            message = session.get(InboundMessage, key)
            assert message is not None and message.size == 40  # blanking keeps the row and its size
            return message.raw != b""
        if kind == Kind.OUTGOING_EMAIL:
            email = session.get(OutgoingEmail, key)
            assert email is not None and email.state == "sent"
            return email.body_text != ""
        if kind == Kind.EMAIL_TOKENS:
            return session.get(EmailToken, key) is not None
        if kind in (Kind.NOTIFICATION_PAYLOADS, Kind.DEAD_LETTERS):
            notification = session.get(Notification, key)
            assert notification is not None and notification.payload  # the field names stay
            return any(value is not None for value in notification.payload.values())
        if kind == Kind.DELIVERY_ATTEMPTS:
            return session.get(DeliveryAttempt, key) is not None
        if kind == Kind.SIGN_INS:
            return session.get(SignInEvent, key) is not None
        if kind == Kind.DATA_RIGHTS_REQUESTS:
            return session.get(DataRightsRequest, key) is not None
        if kind == Kind.REPORT_NOTICES:
            assert session.get(ChangeReport, key) is not None  # the report itself stays
            return session.get(ReportNotice, key) is not None
        assert kind == Kind.AUDIT_EVENTS
        return session.scalar(select(AuditEvent.id).where(AuditEvent.chain == key).limit(1)) is not None


MAKERS: dict[Kind, Callable[[Engine, datetime], Any]] = {
    Kind.JOURNEYS: _journey,
    Kind.INBOUND_PROCESSED: _inbound("processed"),
    Kind.INBOUND_QUARANTINED: _inbound("quarantined"),
    Kind.OUTGOING_EMAIL: _outgoing,
    Kind.EMAIL_TOKENS: _token,
    Kind.NOTIFICATION_PAYLOADS: _notification("acknowledged", delivered="delivered_at", acked="acknowledged_at"),
    Kind.DEAD_LETTERS: _notification("dead", died="dead_at"),
    Kind.DELIVERY_ATTEMPTS: _attempt,
    Kind.SIGN_INS: _sign_in,
    Kind.DATA_RIGHTS_REQUESTS: _request("closed"),
    Kind.REPORT_NOTICES: _notice,
    Kind.AUDIT_EVENTS: _audit_chain,
}


def test_every_kind_the_schema_holds_is_tried_here() -> None:
    # A closed account is many rows of many kinds: tests/integration/data/test_closed_accounts.py.
    assert set(MAKERS) == {rule.kind for rule in SCHEDULE.rules} - {Kind.CLOSED_ACCOUNTS}


@pytest.mark.parametrize("kind", list(MAKERS), ids=str)
def test_each_kind_is_removed_after_its_period_and_not_before(committed: Engine, clock, kind: Kind) -> None:
    due = MAKERS[kind](committed, cutoff(kind) - timedelta(hours=1))
    not_yet = MAKERS[kind](committed, cutoff(kind) + timedelta(hours=1))
    result = run(committed, kind)
    assert [(k.kind, k.removed) for k in result.kinds] == [(kind, 4 if kind == Kind.AUDIT_EVENTS else 1)]
    assert not _held(committed, kind, due)
    assert _held(committed, kind, not_yet)
    assert run(committed, kind).removed == 0  # nothing twice
    clock.advance(timedelta(hours=2))
    assert run(committed, kind).removed >= 1
    assert not _held(committed, kind, not_yet)
    with transaction(committed, writer=False) as session:
        assert verify_chain(session).ok


def test_blanking_keeps_counts_and_hashes_and_no_personal_data(committed: Engine) -> None:
    message = _inbound("processed")(committed, cutoff(Kind.INBOUND_PROCESSED) - timedelta(days=1))
    email = _outgoing(committed, cutoff(Kind.OUTGOING_EMAIL) - timedelta(days=1))
    notification = MAKERS[Kind.NOTIFICATION_PAYLOADS](committed, cutoff(Kind.NOTIFICATION_PAYLOADS) - timedelta(days=1))
    with transaction(committed, writer=False) as session:
        fields = sorted(session.get(Notification, notification).payload)
    run(committed)
    with transaction(committed, writer=False) as session:
        m = session.get(InboundMessage, message)
        assert m.raw == b"" and m.size == 40 and m.status == "processed" and m.subject is None
        assert m.mail_from.startswith("sha256:") and SENDER not in m.mail_from
        e = session.get(OutgoingEmail, email)
        assert e.to_address.startswith("sha256:") and e.subject == "" and e.sent_at is not None
        n = session.get(Notification, notification)
        assert sorted(n.payload) == fields and set(n.payload.values()) == {None}
        assert n.state == "acknowledged"


def test_a_dry_run_says_what_would_go_and_changes_nothing(committed: Engine) -> None:
    made = {kind: MAKERS[kind](committed, cutoff(kind) - timedelta(hours=1)) for kind in MAKERS}
    result = run(committed, dry_run=True)
    counts = {k.kind: k.removed for k in result.kinds}
    assert counts[Kind.JOURNEYS] == 1 and counts[Kind.OUTGOING_EMAIL] == 1 and counts[Kind.AUDIT_EVENTS] >= 4
    assert counts[Kind.CLOSED_ACCOUNTS] == 0
    for kind, key in made.items():
        assert _held(committed, kind, key), kind
    with transaction(committed, writer=False) as session:
        assert not session.scalars(select(AuditEvent).where(AuditEvent.actor == "retention")).all()


def test_a_notification_still_to_deliver_is_never_touched(committed: Engine) -> None:
    long_ago = utcnow() - timedelta(days=4000)
    # Every time a removal could count from is long past (as it might be after a replay): the state decides.
    times = {c: c for c in ("created_at", "delivered_at", "acknowledged_at", "dead_at", "cancelled_at")}
    waiting = [_notification(state, **times)(committed, long_ago) for state in ("pending", "retrying", "delivering")]
    with transaction(committed) as session:
        for key in waiting:
            session.add(DeliveryAttempt(notification_id=key, number=1, worker="w", started_at=long_ago,
                                        finished_at=long_ago, outcome="retry", status_code=503))
    run(committed)
    with transaction(committed, writer=False) as session:
        for key in waiting:
            notification = session.get(Notification, key)
            assert any(v is not None for v in notification.payload.values())
        assert len(session.scalars(select(DeliveryAttempt)).all()) == 3


def test_a_blanked_dead_letter_cannot_be_replayed(committed: Engine) -> None:
    dead = MAKERS[Kind.DEAD_LETTERS](committed, cutoff(Kind.DEAD_LETTERS) - timedelta(hours=1))
    fresh = MAKERS[Kind.DEAD_LETTERS](committed, utcnow())
    run(committed, Kind.DEAD_LETTERS)
    with transaction(committed) as session:
        assert replay_dead(session, now=utcnow()) == 1
        assert session.get(Notification, dead).state == "dead"
        assert session.get(Notification, fresh).state == "pending"


def test_every_removal_is_an_audit_event_with_counts_and_times_and_the_chain_verifies(committed: Engine) -> None:
    for _ in range(3):
        _outgoing(committed, cutoff(Kind.OUTGOING_EMAIL) - timedelta(days=2))
    _journey(committed, cutoff(Kind.JOURNEYS) - timedelta(hours=3))
    run(committed, limit=2)
    with transaction(committed, writer=False) as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.chain == "retention").order_by(AuditEvent.id)).all()
        assert [(e.action, e.details["kind"], e.details["count"]) for e in events] == [
            ("retention.deleted", "journeys", 1),
            ("retention.blanked", "outgoing_email", 2), ("retention.blanked", "outgoing_email", 1)]
        assert all(e.details["oldest"] and e.details["newest"] and e.details["kept"] for e in events)
        assert SENDER not in json.dumps([e.details for e in events])
        assert verify_chain(session).ok


def test_two_runs_at_once_remove_each_row_once_and_both_finish(committed: Engine) -> None:
    made = submit(committed, ("dvla", "hmrc"), count=30)
    old = cutoff(Kind.NOTIFICATION_PAYLOADS) - timedelta(days=1)
    with transaction(committed) as session:
        session.execute(update(Notification).values(state="delivered", delivered_at=old, next_attempt_at=None))
    for _ in range(40):
        _outgoing(committed, cutoff(Kind.OUTGOING_EMAIL) - timedelta(days=1))
    results: list[RunResult] = []
    errors: list[BaseException] = []

    def go() -> None:
        try:
            results.append(run(committed, Kind.NOTIFICATION_PAYLOADS, Kind.OUTGOING_EMAIL, limit=3))
        except BaseException as e:  # noqa: BLE001  # shown by the assertion below
            errors.append(e)

    threads = [threading.Thread(target=go) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors and len(results) == 2
    removed = {kind: sum(k.removed for r in results for k in r.kinds if k.kind == kind)
               for kind in (Kind.NOTIFICATION_PAYLOADS, Kind.OUTGOING_EMAIL)}
    assert removed == {Kind.NOTIFICATION_PAYLOADS: len(made), Kind.OUTGOING_EMAIL: 40}
    with transaction(committed, writer=False) as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.chain == "retention")).all()
        assert sum(e.details["count"] for e in events) == len(made) + 40
        assert verify_chain(session).ok
        assert all(set(n.payload.values()) == {None} for n in session.scalars(select(Notification)))


def test_the_report_counts_what_is_held_by_age_and_what_is_past_its_period(committed: Engine) -> None:
    _outgoing(committed, utcnow() - timedelta(hours=2))
    _outgoing(committed, utcnow() - timedelta(days=10))
    _outgoing(committed, utcnow() - timedelta(days=10))
    with transaction(committed, writer=False) as session:
        report = retention_report(session, SCHEDULE, now=utcnow())
    row = next(k for k in report.kinds if k.kind == Kind.OUTGOING_EMAIL)
    assert dict(zip(report.ages, row.by_age, strict=True))["under 1d"] == 1
    assert dict(zip(report.ages, row.by_age, strict=True))["7-30d"] == 2
    assert row.due == 2
    closed = next(k for k in report.kinds if k.kind == Kind.CLOSED_ACCOUNTS)
    assert sum(closed.by_age) == 0 and closed.due == 0  # none closed here


def test_an_open_data_rights_request_is_never_removed_however_old(committed: Engine) -> None:
    long_ago = utcnow() - timedelta(days=4000)
    still_open = _request("open")(committed, long_ago)
    closed = _request("closed")(committed, long_ago)
    assert run(committed, Kind.DATA_RIGHTS_REQUESTS).removed == 1
    assert _held(committed, Kind.DATA_RIGHTS_REQUESTS, still_open)
    assert not _held(committed, Kind.DATA_RIGHTS_REQUESTS, closed)


def test_a_report_notice_is_kept_while_the_sweep_or_a_delivery_is_still_to_come(committed: Engine) -> None:
    long_ago = utcnow() - timedelta(days=4000)
    waiting = _notice(committed, long_ago, state="retrying")  # an outcome is still to come
    changed = _notice(committed, long_ago)
    with transaction(committed) as session:
        session.get(ReportNotice, changed).changed_at = long_ago  # the sweep has yet to look at it
    done = _notice(committed, long_ago)
    assert run(committed, Kind.REPORT_NOTICES).removed == 1
    assert _held(committed, Kind.REPORT_NOTICES, waiting) and _held(committed, Kind.REPORT_NOTICES, changed)
    assert not _held(committed, Kind.REPORT_NOTICES, done)


def test_removing_a_report_removes_its_notice_with_it(committed: Engine) -> None:
    """However a report goes (a closed account), its notice row never stops it: the database deletes it too."""
    with transaction(committed) as session:
        citizen = make_citizen(session)
        report = ChangeReport(reference=f"TUO-{secrets.token_hex(4).upper()}", citizen_id=citizen.id,
                              change_type="address", channel="web", submission_key="k", fingerprint="f",
                              answers={}, submitted_at=utcnow())
        session.add(report)
        session.flush()
        session.add(ReportNotice(report_id=report.id, emailed_at=utcnow(), told={"all_received": True}))
        report_id = report.id
    with transaction(committed) as session:
        session.execute(delete(ChangeReport).where(ChangeReport.id == report_id))
    with transaction(committed, writer=False) as session:
        assert session.get(ChangeReport, report_id) is None
        assert session.get(ReportNotice, report_id) is None


def test_found_first_in_a_read_transaction_a_batch_is_removed_the_same_and_nothing_due_writes_nothing(
        committed: Engine) -> None:
    for _ in range(5):
        _outgoing(committed, cutoff(Kind.OUTGOING_EMAIL) - timedelta(days=1))
    writes: list[int] = []

    def begin() -> Any:
        writes.append(1)
        return transaction(committed)

    result = run_retention(begin, SCHEDULE, now=utcnow, limit=2, kinds=[Kind.OUTGOING_EMAIL, Kind.JOURNEYS],
                           read=lambda: transaction(committed, writer=False))
    assert [(k.kind, k.removed, k.batches) for k in result.kinds] == [
        (Kind.JOURNEYS, 0, 1), (Kind.OUTGOING_EMAIL, 5, 3)]
    assert len(writes) == 3  # one a batch of emails; none for the journeys, of which none is due
    with transaction(committed, writer=False) as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.chain == "retention")).all()
        assert sorted(e.details["count"] for e in events) == [1, 2, 2]
        assert verify_chain(session).ok


def test_a_row_that_changes_between_the_find_and_the_removal_is_left_alone(committed: Engine) -> None:
    """Found as delivered long ago, replayed before the batch's writing transaction: it keeps its details."""
    key = MAKERS[Kind.NOTIFICATION_PAYLOADS](committed, cutoff(Kind.NOTIFICATION_PAYLOADS) - timedelta(days=1))

    @contextmanager
    def read_then_replay() -> Iterator[Any]:
        with transaction(committed, writer=False) as session:
            yield session
        with transaction(committed) as session:  # meanwhile, an operator sends it again
            session.execute(update(Notification).where(Notification.id == key).values(state="pending"))

    result = run_retention(lambda: transaction(committed), SCHEDULE, now=utcnow,
                           kinds=[Kind.NOTIFICATION_PAYLOADS], read=read_then_replay)
    assert result.removed == 0
    with transaction(committed, writer=False) as session:
        assert any(value is not None for value in session.get(Notification, key).payload.values())
