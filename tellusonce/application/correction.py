"""Correcting a sent report: the use case the correction pages call.

Planned, then written, as a cancellation is (``tellusonce.application.cancellation``).
``plan_correction`` validates the corrected answers as the intake validates a new report,
reads the report's notifications and decides, for each organisation, what correcting does
(``tellusonce.domain.correction``), comparing what it may see before and after: a copy still
queued is replaced by the corrected one (cancelled, and a corrected copy queued behind it); an
organisation that has it, or is being sent it, gets a correction event
(``tellusonce.change.<type>.corrected.v1``) holding only the fields of its view that changed,
under the same consent receipt, naming the original and queued behind it so that it is never
delivered first; an organisation for which nothing it may see changed is sent nothing. The
check page shows the plan. ``write_correction`` writes it in the caller's one transaction: the
report's answers, the replaced copies, the corrected copies and events, and an audit event.
Nothing is sent here.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from tellusonce.application.intake import fingerprint, person_row
from tellusonce.clock import uk_date, utcnow
from tellusonce.data.audit import record_event
from tellusonce.data.outbox import cancel_queued, chain_tails, insert_notifications
from tellusonce.data.reports import lock_report_answers, write_corrected_answers, write_person_details
from tellusonce.data.tracking import report_notifications
from tellusonce.domain.correction import CorrectStep, can_correct, changed_fields, correct_step, organisation_view
from tellusonce.domain.events import correction_data
from tellusonce.domain.planning import planned_time
from tellusonce.domain.reporter import with_account
from tellusonce.domain.validation import ValidChange, validate_change
from tellusonce.models import ChangeReport, Citizen, Department, Notification, NotificationKind, NotificationState

REPLACED_REASON = "replaced by the corrected report before delivery"


class NotCorrectable(ValueError):
    """The report cannot be corrected: it is cancelled (or was never sent)."""


class CorrectedMeanwhile(ValueError):
    """The report's answers changed after the correction was planned (corrected in another tab):
    nothing is written, and the citizen is shown the report as it now stands."""


@dataclass(frozen=True)
class OrganisationCorrection:
    """What correcting does for one organisation told of the report."""

    department: Department
    original: Notification  # its copy of the report: the one it has, or is to be sent
    step: CorrectStep
    before: dict[str, Any]  # what it may see of the report as it stands
    after: dict[str, Any]  # what it may see of the corrected report
    changed: dict[str, Any]  # the fields of its view that change, with their new values (None: no longer given)


@dataclass(frozen=True)
class Correction:
    """Everything correcting one report writes, decided before anything is written."""

    report: ChangeReport
    citizen_id: uuid.UUID
    change: ValidChange  # the corrected answers, validated
    before: dict[str, Any]  # the report's answers as planned against
    organisations: list[OrganisationCorrection]
    events: dict[uuid.UUID, dict[str, Any]]  # original id -> its correction event's row (but for after_id)
    replacements: dict[uuid.UUID, dict[str, Any]]  # original id -> its corrected copy's row (but for after_id)
    now: datetime

    @property
    def changed_answers(self) -> list[str]:
        """The names of the report's answers the correction changes (whoever may see them)."""
        names = [*self.change.data, *(n for n in self.before if n not in self.change.data)]
        return [n for n in names if self.before.get(n) != self.change.data.get(n)]

    def with_step(self, step: CorrectStep) -> list[OrganisationCorrection]:
        return [o for o in self.organisations if o.step == step]


@dataclass(frozen=True)
class CorrectionResult:
    report: ChangeReport
    replaced: list[str]  # department ids whose queued copy was replaced by the corrected one
    told: list[str]  # department ids sent a correction event
    unchanged: list[str]  # department ids for which nothing they may see changed
    events: list[uuid.UUID]  # the correction events and corrected copies queued


def current_copies(notifications: list[Notification] | tuple[Notification, ...]) -> list[Notification]:
    """Each organisation's copy of a report: its change notifications but those a corrected copy
    replaced (a corrected copy waits for the one it replaced: ``after_id``)."""
    changes = [n for n in notifications if n.kind == NotificationKind.CHANGE]
    replaced = {n.after_id for n in changes if n.after_id is not None}
    return [n for n in changes if n.id not in replaced]


def plan_correction(session: Session, citizen: Citizen, report: ChangeReport, answers: Mapping[str, Any], *,
                    now: datetime | None = None) -> Correction:
    """Validate the corrected ``answers`` and decide what correcting ``report`` does, writing nothing.

    Raises ``ChangeInvalid`` for answers a new report could not be sent with, ``NotCorrectable``
    for a report that cannot be corrected, and ``LookupError`` for another citizen's report."""
    now = now or utcnow()
    if report.citizen_id != citizen.id:
        raise LookupError("not this citizen's report")
    if not can_correct(report.state):
        raise NotCorrectable(report.reference)
    change = validate_change(report.change_type, with_account(citizen, report.change_type, answers),
                             today=uk_date(now))
    before = dict(report.answers)
    organisations: list[OrganisationCorrection] = []
    events: dict[uuid.UUID, dict[str, Any]] = {}
    replacements: dict[uuid.UUID, dict[str, Any]] = {}
    for n in current_copies(list(report_notifications(session, citizen.id, report.id))):
        old = organisation_view(n.department, report.change_type, before)
        new = organisation_view(n.department, report.change_type, change.data)
        changed = changed_fields(old, new)
        step = correct_step(n.state, changed)
        organisations.append(OrganisationCorrection(n.department, n, step, old, new, changed))
        # An event for every copy that is or may become the organisation's: one still queued may be
        # claimed before this is written, and is then sent a correction instead (``write_correction``).
        if step in (CorrectStep.TELL, CorrectStep.REPLACE):
            events[n.id] = _event_row(report, n, changed, now)
        if step == CorrectStep.REPLACE:
            replacements[n.id] = _corrected_copy(report, n, change, now)
    return Correction(report, citizen.id, change, before, organisations, events, replacements, now)


def write_correction(session: Session, correction: Correction) -> CorrectionResult:
    """Write what ``plan_correction`` decided, in the caller's transaction.

    The report is read again first (and, on PostgreSQL, locked): one cancelled meanwhile raises
    ``NotCorrectable``, one corrected meanwhile ``CorrectedMeanwhile``, and nothing is written.
    Queued copies are cancelled and their corrected copies queued; any the plan meant to replace
    that a worker claimed in between are being sent, so their organisations are sent a correction
    event instead: never both versions delivered.
    """
    report, now, change = correction.report, correction.now, correction.change
    current = lock_report_answers(session, report.id)
    if current is None or not can_correct(current.state):
        raise NotCorrectable(report.reference)
    if current.answers != correction.before:
        raise CorrectedMeanwhile(report.reference)
    write_corrected_answers(session, report.id, answers=change.data, effective_date=change.effective_date,
                            fingerprint=fingerprint(correction.citizen_id, change), now=now)
    if report.subject_person_id is not None:  # a report about someone else: whose details it gave
        person = person_row(report.citizen, report.change_type, change.data, now)
        write_person_details(session, report.subject_person_id,
                             {k: v for k, v in person.items() if k not in ("id", "reported_by_id", "created_at")})
    planned = [o.original.id for o in correction.with_step(CorrectStep.REPLACE)]
    cancelled = {notification_id for notification_id, _ in cancel_queued(
        session, Notification.id.in_(planned), now=now, reason=REPLACED_REASON)} if planned else set()
    # Read after the queued copies are cancelled: the chain as it now stands.
    tails = chain_tails(session, report.id)
    rows: list[dict[str, Any]] = []
    replaced: list[str] = []
    told: list[str] = []
    for o in correction.organisations:
        if o.step == CorrectStep.REPLACE and o.original.id in cancelled:
            rows.append(dict(correction.replacements[o.original.id], after_id=tails[o.department.id]))
            replaced.append(o.department.id)
        elif o.step in (CorrectStep.TELL, CorrectStep.REPLACE):
            rows.append(dict(correction.events[o.original.id], after_id=tails[o.department.id]))
            told.append(o.department.id)
    insert_notifications(session, rows)
    unchanged = sorted(o.department.id for o in correction.with_step(CorrectStep.UNCHANGED))
    record_event(session, actor=f"citizen:{correction.citizen_id}", action="report.corrected",
                 subject_type="change_report", subject_id=report.id, at=now, flush=False,
                 details={"reference": report.reference, "changed": correction.changed_answers,  # names only
                          "replaced": sorted(replaced), "told": sorted(told), "unchanged": unchanged,
                          "notifications": {row["department_id"]: str(row["id"]) for row in rows}})
    session.expire(report)
    if cancelled:
        for o in correction.with_step(CorrectStep.REPLACE):
            session.expire(o.original)
    return CorrectionResult(report, sorted(replaced), sorted(told), unchanged, [row["id"] for row in rows])


def correct_report(session: Session, citizen: Citizen, report: ChangeReport, answers: Mapping[str, Any], *,
                   now: datetime | None = None) -> CorrectionResult:
    """Correct a report: ``plan_correction`` then ``write_correction``, in the caller's transaction."""
    return write_correction(session, plan_correction(session, citizen, report, answers, now=now))


def _row(report: ChangeReport, original: Notification, now: datetime) -> dict[str, Any]:
    return {
        "report_id": report.id, "citizen_id": report.citizen_id, "department_id": original.department_id,
        "change_type": original.change_type, "state": NotificationState.PENDING,
        "consent_receipt_id": original.consent_receipt_id, "attempt_count": 0, "next_attempt_at": now,
        "planned_for": None, "created_at": now, "updated_at": now,
    }


def _event_row(report: ChangeReport, original: Notification, changed: Mapping[str, Any],
               now: datetime) -> dict[str, Any]:
    """The correction event for one organisation: the fields of its view that changed, under the
    original's receipt, naming the original."""
    return {**_row(report, original, now), "id": uuid.uuid4(), "kind": NotificationKind.CORRECTION,
            "original_id": original.id,
            "payload": correction_data(original_id=original.id, report_reference=report.reference,
                                       corrected=changed)}


def _corrected_copy(report: ChangeReport, original: Notification, change: ValidChange,
                    now: datetime) -> dict[str, Any]:
    """The corrected copy that replaces a queued one: the whole change as the organisation may see it,
    as the intake minimises it (in the language the queued one named, where the registry grants it),
    due when the queued one was (planned again for the corrected date, if it was planned)."""
    language = original.payload.get("language")
    payload = organisation_view(original.department, report.change_type, change.data,
                                language=language if isinstance(language, str) else None)
    department = original.department
    if original.planned_for is not None:
        # Planned for the date: planned again for the corrected date (told now if that is now close).
        planned_for = planned_time(change.effective_date, notice_days=department.notice_for(report.change_type),
                                   channel=department.channel, now=now)
        due = planned_for or now
    else:
        # Not due before the copy it replaces was: one waiting to try again still waits.
        planned_for, due = None, max(original.next_attempt_at or now, now)
    return {**_row(report, original, now), "id": uuid.uuid4(), "kind": NotificationKind.CHANGE,
            "original_id": None, "payload": payload, "next_attempt_at": due, "planned_for": planned_for}
