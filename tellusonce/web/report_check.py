"""Check your answers, see exactly what each organisation will receive, and send.

The preview is the intake's own plan (``plan_change``): the same function that
decides, at submission, which fields each organisation is given. Sending goes
through the intake's ``plan_submission`` and ``write_submission`` and nothing else,
with the submission key minted when the journey started, so pressing the button
twice makes one report.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from babel.support import NullTranslations, Translations
from flask import abort, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from govuk_frontend_wtf.wtforms_widgets import GovCheckboxInput
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response
from wtforms import BooleanField, RadioField
from wtforms.i18n import messages_path

from tellusonce.application.intake import (
    ChangeRequest,
    IntakeResult,
    Plan,
    RecipientStatus,
    Submission,
    plan_change,
    plan_submission,
    write_submission,
)
from tellusonce.clock import utcnow
from tellusonce.data.departments import registry
from tellusonce.data.tracking import get_report, report_notifications
from tellusonce.domain.changetypes import ChangeType, get_change_type
from tellusonce.domain.reporter import account_updates, detail_names, in_words, updates_account
from tellusonce.domain.validation import ChangeInvalid
from tellusonce.i18n import N_
from tellusonce.mailout.queue import compose_email, insert_email
from tellusonce.models import Citizen, Department
from tellusonce.web import display, report_timing
from tellusonce.web.database import get_session, start_writing
from tellusonce.web.department_names import marked_name, organisation_name
from tellusonce.web.forms import StripWhitespaceForm
from tellusonce.web.journey import Journey, current_journey, mark_submitted, save_journey
from tellusonce.web.language import page_language
from tellusonce.web.report_answers import answer_rows, preview_rows
from tellusonce.web.report_pages import DECLARATION, field_labels, page_of_field

log = logging.getLogger(__name__)

CONSENT_WORDS = {
    "once": N_("You are saying they may be told this time."),
    "always": N_("You are saying they may always be told about this kind of change."),
}


@dataclass(frozen=True)
class RecipientPreview:
    department_id: str
    name: str
    reason: str  # why it is told
    why_needed: str  # why it needs this change, from the registry
    rows: Sequence[tuple[str, str]]  # (label, value) exactly as it will receive them
    withheld: list[str]  # labels withheld because the address is protected
    told_protected: bool


def _request(journey: Journey, *, declared: bool, update_details: bool = False,
             timing: dict[str, str] | None = None) -> ChangeRequest:
    answers = dict(journey.answers)
    if get_change_type(journey.change_type).about_someone_else and declared:
        answers[DECLARATION] = True
    recipients = list(journey.recipients)
    return ChangeRequest(
        change_type=journey.change_type, answers=answers, recipients=recipients,
        consent={k: v for k, v in journey.consent.items() if k in recipients},
        channel="web", submission_key=journey.submission_key, update_details=update_details, timing=timing or {},
    )


class _WTFormsTranslations:
    """WTForms' own messages in the page's language, each catalogue loaded once per process
    (Flask-WTF's loads it from disk again in every request that builds a form with choices)."""

    def gettext(self, string: str) -> str:
        return str(_wtforms_catalogue(page_language()).ugettext(string))

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return str(_wtforms_catalogue(page_language()).ungettext(singular, plural, n))


@lru_cache(maxsize=8)
def _wtforms_catalogue(locale: str) -> NullTranslations:
    return Translations.load(messages_path(), [locale], domain="wtforms")


_WTFORMS_TRANSLATIONS = _WTFormsTranslations()


class CheckForm(StripWhitespaceForm):
    """Check your answers: nothing to answer but the CSRF token."""

    class Meta:
        def get_translations(self, form: Any) -> _WTFormsTranslations:
            return _WTFORMS_TRANSLATIONS


class SelfCheckForm(CheckForm):
    """Check your answers for a change about the reporter: whether their account takes the new details.

    Yes is chosen already (the citizen sees it), so a form sent without the answer means yes. The
    question is drawn by ``templates/_update_details.html``, the same on the emailed change's page.
    """

    update_details = RadioField(default="yes", validate_choice=False)

    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators)
        if self.update_details.data not in ("yes", "no"):
            self.update_details.errors = [_("Select yes if you want us to update your account with these details")]
            return False
        return valid


class DeclaredCheckForm(CheckForm):
    """Check your answers for a change about someone else: the reporter declares their authority."""

    authority_declared = BooleanField(widget=GovCheckboxInput())  # the field named DECLARATION; labelled per change type


def _check_form(change_type: ChangeType, journey: Journey, departments: Sequence[Department],
                formdata: Any = None) -> StripWhitespaceForm:
    """The form for ``change_type``, with when to tell each organisation that could be told on the date."""
    asked = report_timing.offers(change_type, journey.answers, departments, journey.recipients, now=utcnow())
    if updates_account(change_type):
        return report_timing.with_timing(SelfCheckForm, change_type, asked)(formdata=formdata)
    if not change_type.about_someone_else:
        return report_timing.with_timing(CheckForm, change_type, asked)(formdata=formdata)
    form = report_timing.with_timing(DeclaredCheckForm, change_type, asked)(formdata=formdata)
    form[DECLARATION].label.text = _(change_type.field(DECLARATION).label)
    return form


def check_or_submit(citizen: Citizen, journey: Journey) -> str | Response:
    session = get_session()
    change_type = get_change_type(journey.change_type)
    departments = registry(session)  # read once: the form's questions and the plan both need it
    form: StripWhitespaceForm | None = None
    # Sending goes straight to the intake, which plans again anyway: the preview is for showing.
    # With nobody left to tell, the page says so and offers no button; a POST just shows it again.
    if request.method == "POST" and journey.recipients:
        # A change about the reporter answers whether to update their account; one about someone
        # else, the declaration. (CSRFProtect checked the token before this view ran.)
        form = _check_form(change_type, journey, departments, request.form)
        if form.validate():
            sent = _send(session, citizen, journey, form, departments)
            if sent is not None:
                return sent
    if form is None:
        form = _check_form(change_type, journey, departments, request.form if request.method == "POST" else None)
    try:
        # The declaration does not change who is told what, so the preview assumes it is given.
        plan = plan_change(session, citizen, _request(journey, declared=True), now=utcnow(), departments=departments)
    except ChangeInvalid as error:
        return _to_first_error(journey, error)
    return render_template("report/check.html", form=form, account_details=_account_details(citizen, plan),
                           timing=report_timing.shown(form, plan), answers_date=plan.change.effective_date,
                           **_check_context(journey, change_type, plan))


def _account_details(citizen: Citizen, plan: Plan) -> str | None:
    """The details sending would change on the account ("name and address"), or None: nothing to ask."""
    if not updates_account(plan.change.change_type):
        return None
    names = [_(name) for name in detail_names(account_updates(citizen, plan.change.change_type.id, plan.change.data))]
    return in_words(names, page_language()) if names else None


def _send(session: Session, citizen: Citizen, journey: Journey, form: StripWhitespaceForm | None,
          departments: Sequence[Department]) -> Response | None:
    """Send the report through the intake: where to go next, or None when the declaration (on
    ``form``) was refused and the page is shown again with its error."""
    declared = bool(form[DECLARATION].data) if form is not None and DECLARATION in form else False
    update_details = form is not None and "update_details" in form and form["update_details"].data == "yes"
    timing = report_timing.chosen(form) if form is not None else {}
    try:
        submission = plan_submission(session, citizen, _request(journey, declared=declared, update_details=update_details,
                                                                timing=timing), now=utcnow(), departments=departments)
    except ChangeInvalid as error:
        if form is None or DECLARATION not in form or any(e.field != DECLARATION for e in error.errors):
            return _to_first_error(journey, error)
        form[DECLARATION].errors = [error.by_field()[DECLARATION].render(_)]
        return None
    # Read, decide and compose first; SQLite's write lock is taken only for the writes (``reads_first``).
    email = _confirmation_email(citizen, submission)
    start_writing(session)
    result = write_submission(session, citizen, submission)
    if result.created:
        # The confirmation email, in the same transaction; the sender renders it.
        insert_email(session, email)
        log.info("report submitted on the web", extra={"event": "report_submitted", "report_id": str(result.report.id)})
    return _submitted(journey, result)


def _to_first_error(journey: Journey, error: ChangeInvalid) -> Response:
    for field_error in error.errors:
        page = page_of_field(journey.change_type, field_error.field)
        if page is not None:
            return redirect(url_for("report.question", slug=page.slug))
    abort(400)


def _submitted(journey: Journey, result: IntakeResult) -> Response:
    mark_submitted(journey, result.report.id)
    return redirect(url_for("report.confirmation", reference=result.report.reference), code=303)


def _confirmation_email(citizen: Citizen, planned: Submission) -> dict[str, Any]:
    settings = current_app.config["SETTINGS"]
    told = [organisation_name(o.department, citizen.language) for o in planned.outcomes
            if o.status == RecipientStatus.QUEUED]
    return compose_email(
        to=citizen.email, subject=N_("Change reported: %(reference)s"), template="report_submitted",
        context={
            "reference": planned.reference,
            "change_label": get_change_type(planned.change_type).label,
            "organisations": told,
            "link": settings.base_url + url_for("track.report", reference=planned.reference),
        },
        purpose="report_submitted", language=citizen.language, related_id=planned.report_id,
    )


def already_submitted(journey: Journey) -> Response:
    report = get_report(get_session(), uuid.UUID(journey.citizen_id), report_id=uuid.UUID(journey.report_id or ""))
    if report is None:
        abort(404)
    return redirect(url_for("report.confirmation", reference=report.reference), code=303)


def drop_recipient(journey: Journey, department_id: str) -> None:
    if department_id in journey.recipients:
        journey.recipients = [d for d in journey.recipients if d != department_id]
        journey.consent.pop(department_id, None)
        save_journey(journey)


def _previews(plan: Plan, change_type: ChangeType) -> list[RecipientPreview]:
    previews = []
    data = plan.change.data
    for rp in plan.queued:
        rows = preview_rows(change_type, data, rp.fields)
        previews.append(RecipientPreview(
            department_id=rp.department.id, name=organisation_name(rp.department),
            reason=_(CONSENT_WORDS[rp.consent]) if rp.consent else _(rp.reason),
            why_needed=rp.department.reasons.get(change_type.id, ""),
            rows=rows, withheld=field_labels(change_type.id, list(rp.withheld)),
            told_protected=plan.change.protected_address,
        ))
    return previews


# "from" is a Python keyword, so the query argument goes in as a mapping.
_FROM_CHECK: dict[str, Any] = {"from": "check"}


def _check_context(journey: Journey, change_type: ChangeType, plan: Plan) -> dict[str, Any]:
    return {
        "change_type": change_type,
        "answers": answer_rows(change_type, plan.change.data),
        "previews": _previews(plan, change_type),
        "needs_consent": [marked_name(r.department) for r in plan.recipients if r.status == RecipientStatus.NEEDS_CONSENT],
        "not_told": [marked_name(r.department) for r in plan.recipients if r.status == RecipientStatus.NOT_CHOSEN],
        "back": url_for("report.organisations", **_FROM_CHECK),
    }


def confirmation_context(citizen: Citizen, reference: str) -> dict[str, Any]:
    session = get_session()
    report = get_report(session, citizen.id, reference=reference)
    if report is None:
        abort(404)
    notifications = report_notifications(session, citizen.id, report.id)
    # This journey found a report made earlier (by another journey or by email): say so.
    journey = current_journey(citizen.id)
    duplicate = (journey is not None and journey.report_id == str(report.id)
                 and journey.submission_key != report.submission_key)
    return {
        "report": report,
        "change_type": get_change_type(report.change_type),
        "organisations": [{"name": marked_name(n.department), "fields": display.told_fields(n),
                           "receipt": str(n.consent_receipt_id), "planned_for": n.planned_for} for n in notifications],
        "duplicate": duplicate,
    }
