"""Intake: the one use case both channels end in.

A submission is planned, then written. ``plan_submission`` reads what it needs,
validates the change against its type's schema and works out who is told and with
which fields: it returns every row to write, as plain values. ``write_submission``
writes them in the caller's one transaction: the report, one outbox notification
per permitted department (payload already minimised), consent events and audit
events. Between the two the caller may take a write lock (the web, on SQLite), so
that the lock is held only for the writes. ``submit_change`` does both. Nothing is
sent here.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from tellusonce.application.consent import NewGrant, grant_views, new_grant_rows
from tellusonce.clock import uk_date, utcnow
from tellusonce.data.audit import record_event
from tellusonce.data.citizens import write_profile
from tellusonce.data.consent import insert_grants
from tellusonce.data.departments import registry
from tellusonce.data.outbox import insert_notifications
from tellusonce.data.reports import attach_report, find_earlier_report, insert_report
from tellusonce.domain.changetypes import get_change_type
from tellusonce.domain.consent import REASONS, decide, fields_for, minimise
from tellusonce.domain.planning import When, planned_time
from tellusonce.domain.reference import new_reference
from tellusonce.domain.reporter import PREVIOUS_ADDRESS, account_updates, updates_account, with_account
from tellusonce.domain.validation import ValidChange, validate_change
from tellusonce.i18n import N_
from tellusonce.models import (
    ChangeReport,
    Citizen,
    ConsentScope,
    Department,
    Notification,
    NotificationKind,
    NotificationState,
    ReportState,
    Subject,
)

DUPLICATE_WINDOW = timedelta(days=14)
# A report in one of these states is the same change when it comes again (a cancelled one is not).
SAME_CHANGE_STATES = (ReportState.SUBMITTED, ReportState.PENDING_CONFIRMATION)
CONSENT_CHOICES = ("once", "always")


@dataclass(frozen=True)
class ChangeRequest:
    change_type: str
    answers: Mapping[str, Any]
    recipients: Sequence[str]
    consent: Mapping[str, str] = field(default_factory=dict)
    channel: str = "web"
    submission_key: str = ""
    declaration: str | None = None
    # Whether sending it puts the reporter's new details on their account (``domain.reporter``).
    update_details: bool = False
    # When each organisation is told of a change reported ahead of its date: department id ->
    # a ``When`` ("now" or "on_date"); an organisation not named is told now.
    timing: Mapping[str, str] = field(default_factory=dict)


class RecipientStatus(StrEnum):
    """What becomes of one organisation for one change (text, so templates compare it as text)."""

    QUEUED = "queued"  # it will be told (a notification is queued)
    NEEDS_CONSENT = "needs_consent"  # chosen, but the citizen has not said it may be told
    NOT_HANDLED = "not_handled"  # chosen, but it does not deal with this kind of change
    NOT_CHOSEN = "not_chosen"  # it deals with this change, and the citizen chose not to tell it


@dataclass(frozen=True)
class RecipientPlan:
    department: Department
    status: RecipientStatus
    fields: tuple[str, ...]
    withheld: tuple[str, ...]
    reason: str
    consent: str | None = None  # "once" | "always" when given with this report
    notification_id: uuid.UUID | None = None
    receipt_id: uuid.UUID | None = None  # the consent already held that allows it
    # When it would be told "on the date" (``domain.planning``); None: there is no choice, it is told now.
    on_date_at: datetime | None = None
    # When it will be told, because the citizen chose "on the date"; None: as soon as it can be.
    planned_for: datetime | None = None


@dataclass(frozen=True)
class Plan:
    change: ValidChange
    recipients: list[RecipientPlan]

    @property
    def queued(self) -> list[RecipientPlan]:
        return [r for r in self.recipients if r.status == RecipientStatus.QUEUED]


@dataclass(frozen=True)
class IntakeResult:
    report: ChangeReport
    created: bool
    outcomes: list[RecipientPlan]
    duplicate_of: ChangeReport | None = None


@dataclass(frozen=True)
class Submission:
    """Everything one submission writes, decided before anything is written (``plan_submission``):
    plain rows for ``write_submission``, which reads nothing it could have read before but
    whether the report exists already."""

    request: ChangeRequest
    plan: Plan
    report: dict[str, Any]  # the change_report row
    person: dict[str, Any] | None  # whose details were given, for a report about someone else
    grants: list[tuple[dict[str, Any], dict[str, Any]]]  # the consents given with it, and their events
    notifications: list[dict[str, Any]]
    outcomes: list[RecipientPlan]  # as the result will give them, should this submission make the report
    account_updates: dict[str, Any]  # what the reporter's account takes (attribute -> value)
    held: bool  # kept until the citizen confirms it: nothing queued
    now: datetime

    @property
    def report_id(self) -> uuid.UUID:
        return cast(uuid.UUID, self.report["id"])

    @property
    def reference(self) -> str:
        return cast(str, self.report["reference"])

    @property
    def change_type(self) -> str:
        return cast(str, self.report["change_type"])


@dataclass(frozen=True)
class _Queued:
    """The rows that tell organisations about one report: consents given with it, and notifications."""

    grants: list[tuple[dict[str, Any], dict[str, Any]]]
    notifications: list[dict[str, Any]]
    outcomes: list[RecipientPlan]


class IntakeError(ValueError):
    """A request the intake refuses as a whole (not a field error)."""


def plan_change(session: Session, citizen: Citizen, request: ChangeRequest, *, now: datetime | None = None,
                report_id: uuid.UUID | None = None, departments: Sequence[Department] | None = None) -> Plan:
    """Validate the change and decide, for every organisation, whether and what it is told.

    ``departments`` is the registry (``data.departments.registry``) when the caller has read it
    already in this transaction; otherwise it is read here."""
    now = now or utcnow()
    change = validate_change(request.change_type, with_account(citizen, request.change_type, request.answers),
                             today=uk_date(now))
    unknown = [c for c in request.consent.values() if c not in CONSENT_CHOICES]
    if unknown:
        raise IntakeError(f"consent must be one of {CONSENT_CHOICES}, not {unknown[0]!r}")
    unknown = [w for w in request.timing.values() if w not in tuple(When)]
    if unknown:
        raise IntakeError(f"when to tell must be one of {tuple(map(str, When))}, not {unknown[0]!r}")
    chosen = set(request.recipients)
    if departments is None:
        departments = registry(session)
    unknown_ids = chosen - {d.id for d in departments}
    if unknown_ids:
        raise IntakeError(f"no such organisation: {', '.join(sorted(unknown_ids))}")
    # The consents held decide only for an organisation chosen without one given with this report:
    # with one given for each (as the web journey asks), they are not read.
    if any(d.id in chosen and d.id not in request.consent and d.accepts(request.change_type) for d in departments):
        grants = grant_views(session, citizen.id, now=now, report_id=report_id)
    else:
        grants = []
        session.flush()  # as reading them would: what the caller has pending is written before this report
    plans: list[RecipientPlan] = []
    for department in departments:
        if not department.accepts(request.change_type):
            if department.id in chosen:
                plans.append(RecipientPlan(department, RecipientStatus.NOT_HANDLED, (), (), REASONS["not_handled"]))
            continue
        if department.id not in chosen:
            plans.append(RecipientPlan(department, RecipientStatus.NOT_CHOSEN, (), (), N_("You chose not to tell them.")))
            continue
        given = request.consent.get(department.id)
        if given:
            fields, withheld = fields_for(department, request.change_type, protected_address=change.protected_address)
            reason = REASONS["standing" if given == "always" else "one_off"]
            plans.append(RecipientPlan(department, RecipientStatus.QUEUED, fields, withheld, reason, consent=given,
                                       **_timing(department, change, request, now)))
            continue
        decision = decide(grants, department, request.change_type, now=now, report_id=report_id,
                          protected_address=change.protected_address)
        status = RecipientStatus.QUEUED if decision.allowed else RecipientStatus.NEEDS_CONSENT
        plans.append(RecipientPlan(department, status, decision.fields, decision.withheld, REASONS[decision.reason],
                                   receipt_id=decision.receipt_id,
                                   **(_timing(department, change, request, now) if decision.allowed else {})))
    return Plan(change, plans)


def _timing(department: Department, change: ValidChange, request: ChangeRequest, now: datetime) -> dict[str, Any]:
    """When ``department`` would be told "on the date", and whether the citizen chose it."""
    on_date_at = planned_time(change.effective_date, notice_days=department.notice_for(change.change_type.id),
                              channel=department.channel, now=now)
    chosen = on_date_at is not None and request.timing.get(department.id) == When.ON_DATE
    return {"on_date_at": on_date_at, "planned_for": on_date_at if chosen else None}


def fingerprint(citizen_id: uuid.UUID, change: ValidChange) -> str:
    """The same change from the same citizen, whichever channel it came by.

    Only the change itself counts, not what the account filled in around it (the
    reporter's own details, the address moved from): a change sent with "update my
    details" moves the account on, and the same change reported again by another
    channel still is the same change.
    """
    own = {f.name for f in change.change_type.fields if f.profile} | set(PREVIOUS_ADDRESS)
    the_change = {name: value for name, value in change.data.items() if name not in own}
    body = json.dumps([str(citizen_id), change.change_type.id, the_change], sort_keys=True, default=str)
    return hashlib.sha256(body.encode()).hexdigest()


def submit_change(session: Session, citizen: Citizen, request: ChangeRequest, *,
                  now: datetime | None = None) -> IntakeResult:
    """Report a change: ``plan_submission`` then ``write_submission``, in the caller's transaction.

    A caller that must take a write lock between reading and writing (the web, on SQLite)
    calls the two itself."""
    return write_submission(session, citizen, plan_submission(session, citizen, request, now=now))


def hold_change(session: Session, citizen: Citizen, request: ChangeRequest, *, now: datetime | None = None) -> IntakeResult:
    """Keep a change pending until the citizen confirms it (email: a From header can be forged)."""
    return write_submission(session, citizen, plan_submission(session, citizen, request, now=now, hold=True))


def plan_submission(session: Session, citizen: Citizen, request: ChangeRequest, *, now: datetime | None = None,
                    hold: bool = False, departments: Sequence[Department] | None = None) -> Submission:
    """Read, validate and decide everything a submission writes, writing nothing.

    Raises ``ChangeInvalid`` or ``IntakeError`` for a change that cannot be sent. Consent is
    decided on what is read here; dispatch checks it again before anything is sent.
    ``departments``: as ``plan_change`` takes it.
    """
    now = now or utcnow()
    if not request.submission_key:
        raise IntakeError("a submission key is needed so that a repeated submission makes one report")
    report_id = uuid.uuid4()
    reference = new_reference()
    plan = plan_change(session, citizen, request, now=now, report_id=report_id, departments=departments)
    change_type = plan.change.change_type
    person = person_row(citizen, change_type.id, plan.change.data, now) if change_type.about_someone_else else None
    row = {
        "id": report_id, "reference": reference, "citizen_id": citizen.id, "change_type": change_type.id,
        "effective_date": plan.change.effective_date or uk_date(now),
        "subject": Subject.OTHER if change_type.about_someone_else else Subject.SELF,
        "subject_person_id": person["id"] if person else None,
        "channel": request.channel, "submission_key": request.submission_key,
        "fingerprint": fingerprint(citizen.id, plan.change),
        "state": ReportState.PENDING_CONFIRMATION if hold else ReportState.SUBMITTED,
        "answers": plan.change.data, "declaration": _declaration(change_type.id, request, now),
        "pending_request": {"recipients": list(request.recipients), "consent": dict(request.consent),
                            "declaration": request.declaration,
                            "update_details": request.update_details, "timing": dict(request.timing)} if hold else None,
        "submitted_at": None if hold else now, "created_at": now, "updated_at": now,
    }
    if hold:
        return Submission(request, plan, row, person, [], [], plan.recipients, {}, True, now)
    queued = _to_queue(citizen.id, report_id, reference, change_type.id, plan, now=now,
                       language=citizen.language)
    return Submission(request, plan, row, person, queued.grants, queued.notifications, queued.outcomes,
                      _account_updates(citizen, request, plan), False, now)


def write_submission(session: Session, citizen: Citizen, submission: Submission) -> IntakeResult:
    """Write what ``plan_submission`` decided, in the caller's transaction; or give the report that
    stands instead: the one this submission made already (its key), or the same change reported
    lately (``duplicate_of``), as committed by the time this transaction writes."""
    now = submission.now
    report_row = submission.report
    earlier = _earlier(session, citizen.id, report_row["submission_key"], report_row["fingerprint"], now=now)
    if earlier is not None:
        return earlier
    if not insert_report(session, report_row, person=submission.person):
        # The same submission raced us to the unique key: that one stands.
        earlier = _earlier(session, citizen.id, report_row["submission_key"], None, now=now)
        if earlier is None:
            raise IntakeError("this submission was made at the same moment by another request and cannot be read back")
        return earlier
    report = attach_report(session, report_row, citizen)
    if submission.held:
        record_event(session, actor=f"citizen:{citizen.id}", action="report.held", subject_type="change_report",
                     subject_id=report.id, details={"reference": report.reference, "channel": report.channel}, at=now)
        return IntakeResult(report, True, submission.outcomes)
    updated = _put_on_account(session, citizen, submission.account_updates)
    queued = _Queued(submission.grants, submission.notifications, submission.outcomes)
    _write_queue(session, queued)
    _audit_submitted(session, report, queued.outcomes, now=now, account_updated=updated)
    return IntakeResult(report, True, queued.outcomes)


def confirm_held_change(session: Session, report: ChangeReport, *, now: datetime | None = None,
                        update_details: bool | None = None) -> IntakeResult:
    """Submit a held change as it was asked for; confirming twice changes nothing.

    ``update_details`` is the citizen's answer when confirming (None: as held).
    """
    now = now or utcnow()
    if report.state != ReportState.PENDING_CONFIRMATION:
        return IntakeResult(report, False, _outcomes_of(session, report))
    held = report.pending_request or {}
    request = ChangeRequest(
        change_type=report.change_type, answers=report.answers, recipients=held.get("recipients", []),
        consent=held.get("consent", {}), channel=report.channel, submission_key=report.submission_key,
        declaration=held.get("declaration"),
        update_details=bool(held.get("update_details")) if update_details is None else update_details,
        timing=held.get("timing", {}),
    )
    plan = plan_change(session, report.citizen, request, now=now, report_id=report.id)
    queued = _to_queue(report.citizen_id, report.id, report.reference, report.change_type, plan, now=now,
                       language=report.citizen.language)
    report.state = ReportState.SUBMITTED
    report.submitted_at = now
    report.pending_request = None
    updated = _put_on_account(session, report.citizen, _account_updates(report.citizen, request, plan))
    _write_queue(session, queued)
    _audit_submitted(session, report, queued.outcomes, now=now, account_updated=updated)
    return IntakeResult(report, True, queued.outcomes)


def _account_updates(citizen: Citizen, request: ChangeRequest, plan: Plan) -> dict[str, Any]:
    """What the reporter's account takes from the change being sent, when they said so."""
    if request.update_details and updates_account(plan.change.change_type):
        return account_updates(citizen, plan.change.change_type.id, plan.change.data)
    return {}


def _put_on_account(session: Session, citizen: Citizen, updates: Mapping[str, Any]) -> list[str]:
    """Put a sent change's details on the reporter's account; the names of the attributes changed,
    which the ``report.submitted`` audit event records (names only, never values)."""
    if updates:
        write_profile(session, citizen, updates)
    return sorted(updates)


def _earlier(session: Session, citizen_id: uuid.UUID, key: str | None, print_: str | None, *,
             now: datetime) -> IntakeResult | None:
    """The report this submission already made (same key), or the same change reported lately."""
    found = find_earlier_report(session, citizen_id, submission_key=key, fingerprint=print_,
                                states=SAME_CHANGE_STATES, since=now - DUPLICATE_WINDOW)
    if found is None:
        return None
    report = session.get_one(ChangeReport, found.report_id)
    return IntakeResult(report, False, _outcomes_of(session, report),
                        duplicate_of=None if found.same_submission else report)


def _to_queue(citizen_id: uuid.UUID, report_id: uuid.UUID, reference: str, change_type: str, plan: Plan, *,
              now: datetime, language: str) -> _Queued:
    """The consents given with the report, and one notification per recipient told, as rows."""
    given = [rp for rp in plan.recipients if rp.status == RecipientStatus.QUEUED and rp.consent]
    grants = new_grant_rows(citizen_id, [
        NewGrant(rp.department, [change_type],
                 scope=ConsentScope.STANDING if rp.consent == "always" else ConsentScope.ONE_OFF,
                 report_id=None if rp.consent == "always" else report_id)
        for rp in given
    ], now=now, report_reference=reference, language=language)
    receipts = {grant["department_id"]: grant["receipt_id"] for grant, _ in grants}
    outcomes: list[RecipientPlan] = []
    notifications: list[dict[str, Any]] = []
    for rp in plan.recipients:
        if rp.status != RecipientStatus.QUEUED:
            outcomes.append(rp)
            continue
        receipt_id = receipts[rp.department.id] if rp.consent else rp.receipt_id
        if receipt_id is None:
            outcomes.append(RecipientPlan(rp.department, RecipientStatus.NEEDS_CONSENT, rp.fields, rp.withheld, REASONS["no_consent"]))
            continue
        notification_id = uuid.uuid4()
        notifications.append({
            "id": notification_id, "report_id": report_id, "citizen_id": citizen_id,
            "department_id": rp.department.id, "change_type": change_type, "kind": NotificationKind.CHANGE,
            "state": NotificationState.PENDING,
            "payload": minimise(plan.change.data, rp.fields, protected_address=plan.change.protected_address,
                                language=language if rp.department.receives_language else None),
            "consent_receipt_id": receipt_id, "attempt_count": 0,
            # A planned one waits in the queue until it is due: no claim takes it before.
            "next_attempt_at": rp.planned_for or now, "planned_for": rp.planned_for,
            "created_at": now, "updated_at": now,
        })
        outcomes.append(RecipientPlan(rp.department, RecipientStatus.QUEUED, rp.fields, rp.withheld, rp.reason, rp.consent,
                                      notification_id, receipt_id, rp.on_date_at, rp.planned_for))
    return _Queued(grants, notifications, outcomes)


def _write_queue(session: Session, queued: _Queued) -> None:
    """Three statements however many organisations are told: grants, their events, notifications."""
    insert_grants(session, queued.grants)
    insert_notifications(session, queued.notifications)


def _audit_submitted(session: Session, report: ChangeReport, outcomes: list[RecipientPlan], *, now: datetime,
                     account_updated: list[str]) -> None:
    record_event(
        session, actor=f"citizen:{report.citizen_id}", action="report.submitted", subject_type="change_report",
        subject_id=report.id, at=now, flush=False, plain=True,
        details={
            "reference": report.reference, "change_type": report.change_type, "channel": report.channel,
            "queued": sorted(o.department.id for o in outcomes if o.status == "queued"),
            "needs_consent": sorted(o.department.id for o in outcomes if o.status == "needs_consent"),
            "consent_given": {o.department.id: o.consent for o in outcomes if o.consent},
            "receipts": {o.department.id: str(o.receipt_id) for o in outcomes if o.receipt_id},
            # Those to be told on the date, and when (the rest are told at once).
            "planned": {o.department.id: o.planned_for.isoformat() for o in outcomes if o.planned_for},
            # The account details this report put on the citizen's account (names only: domain.reporter).
            "account_updated": account_updated,
        },
    )


def _outcomes_of(session: Session, report: ChangeReport) -> list[RecipientPlan]:
    notifications = session.scalars(select(Notification).where(Notification.report_id == report.id)).all()
    return [
        RecipientPlan(n.department, RecipientStatus.QUEUED, tuple(k for k in n.payload if k != "protected_address"), (),
                      N_("Queued when this change was first reported."), notification_id=n.id,
                      planned_for=n.planned_for)
        for n in notifications
    ]


def _declaration(change_type: str, request: ChangeRequest, now: datetime) -> dict[str, Any] | None:
    ct = get_change_type(change_type)
    if not ct.about_someone_else:
        return None
    return {
        "statement": request.declaration or ct.field("authority_declared").label,
        "relationship": request.answers.get("reporter_relationship"),
        "declared_at": now.isoformat(),
        "channel": request.channel,
    }


def person_row(citizen: Citizen, change_type: str, data: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """Whose details were given, kept apart from the reporter's own (a ``person_details`` row)."""

    def day(name: str) -> date | None:
        return date.fromisoformat(data[name]) if data.get(name) else None

    row: dict[str, Any] = {"id": uuid.uuid4(), "reported_by_id": citizen.id, "relationship": data["reporter_relationship"],
                           "created_at": now, "updated_at": now}
    if change_type == "death":
        address = ", ".join(data[k] for k in ("deceased_address_line_1", "deceased_address_line_2",
                                                "deceased_town", "deceased_postcode") if data.get(k))
        return row | {
            "given_names": data["deceased_given_names"], "family_name": data["deceased_family_name"],
            "date_of_birth": day("deceased_date_of_birth"), "date_of_death": day("date_of_death"),
            "ni_number": data.get("deceased_ni_number"), "address": address,
        }
    address = ", ".join(data[k] for k in ("address_line_1", "address_line_2", "town", "postcode") if data.get(k))
    return row | {
        "given_names": data["child_given_names"], "family_name": data["child_family_name"],
        "date_of_birth": day("child_date_of_birth"), "date_of_death": None, "ni_number": None, "address": address,
    }
