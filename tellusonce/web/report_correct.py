"""Correct a sent report: the report's answers on a check page, each changed on the report
journey's own question pages (same forms, same validation), then what each organisation will be
told, and the correction itself (``tellusonce.application.correction``).

The answers being corrected are kept in the database between pages, as a new report's are
(``tellusonce.data.journeys``): a journey row of their own, naming the report it corrects, whose
id is in the session under its own key, so a correction never disturbs a new report in progress.
It starts with the report's answers as they stand; sending the correction deletes it.

Only the report's owner, signed in: another citizen's reference is not found (404). A report
that cannot be corrected (cancelled, or not yet confirmed) gets a page saying so.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from markupsafe import Markup
from werkzeug.wrappers import Response

from tellusonce.application.correction import (
    CorrectedMeanwhile,
    Correction,
    NotCorrectable,
    OrganisationCorrection,
    plan_correction,
    write_correction,
)
from tellusonce.clock import today, utcnow
from tellusonce.data.journeys import delete_journey, load_journey, store_journey
from tellusonce.domain.changetypes import ChangeType, get_change_type
from tellusonce.domain.correction import PROTECTED, CorrectStep, can_correct
from tellusonce.domain.reporter import with_account
from tellusonce.domain.validation import ChangeInvalid, validate_change
from tellusonce.mailout.render import answer_text
from tellusonce.models import ChangeReport, Citizen
from tellusonce.web import report_pages
from tellusonce.web.auth import login_required
from tellusonce.web.database import get_session
from tellusonce.web.department_names import marked_name
from tellusonce.web.forms import StripWhitespaceForm
from tellusonce.web.language import page_language
from tellusonce.web.report_answers import answer_rows
from tellusonce.web.track import own_report

bp = Blueprint("correct", __name__)
SESSION_KEY = "correction_journey"


class SendCorrectionForm(StripWhitespaceForm):
    """Only the button (and the CSRF token)."""


# -- the answers being corrected, between pages ------------------------------------------------


@dataclass
class CorrectionJourney:
    id: str
    report_id: str
    answers: dict[str, Any]


def _load(citizen: Citizen, report: ChangeReport) -> CorrectionJourney | None:
    journey_id = session.get(SESSION_KEY)
    if not isinstance(journey_id, str):
        return None
    row = load_journey(get_session(), journey_id, citizen.id, now=utcnow())
    if row is None or row.state.get("correcting") != str(report.id):
        return None
    return CorrectionJourney(row.id, str(report.id), dict(row.state.get("answers") or {}))


def _save(citizen: Citizen, report: ChangeReport, journey: CorrectionJourney) -> None:
    now = utcnow()
    store_journey(get_session(), journey.id, citizen.id,
                  {"correcting": journey.report_id, "change_type": report.change_type, "answers": journey.answers},
                  started_at=now, now=now)


def _journey(citizen: Citizen, report: ChangeReport, *, keep: bool) -> CorrectionJourney:
    """The correction in progress, or one starting from the report's answers as they stand (an
    answer the report does not have kept as answered empty, so that what the account knows does
    not fill it in). Only a page that saves answers (``keep``) writes a new one: looking writes nothing."""
    journey = _load(citizen, report)
    if journey is not None:
        return journey
    change_type = get_change_type(report.change_type)
    journey = CorrectionJourney(secrets.token_hex(16), str(report.id),
                                {name: report.answers.get(name) for name in change_type.field_names})
    if keep:
        old = session.get(SESSION_KEY)
        if isinstance(old, str):
            delete_journey(get_session(), old, citizen.id)
        session[SESSION_KEY] = journey.id
    return journey


def _forget(citizen: Citizen, journey: CorrectionJourney) -> None:
    delete_journey(get_session(), journey.id, citizen.id)
    session.pop(SESSION_KEY, None)


# -- pages ---------------------------------------------------------------------------------------


def _cannot(report: ChangeReport) -> str:
    return render_template("track/cannot_correct.html", report=report, change_type=get_change_type(report.change_type))


@bp.route("/changes/<reference>/correct/questions/<slug>", methods=["GET", "POST"])
@login_required
def question(reference: str, slug: str) -> str | Response:
    citizen, report = own_report(reference)
    if not can_correct(report.state):
        return _cannot(report)
    journey = _journey(citizen, report, keep=request.method == "POST")
    page = report_pages.find_page(report.change_type, slug)
    if page is None:
        abort(404)
    change_type = get_change_type(report.change_type)
    if request.method == "POST":
        form = report_pages.page_form(change_type, page.fields, formdata=request.form)
        form.validate()  # CSRF, and whether the date boxes make a date; the domain judges the rest
        for name in page.fields:
            journey.answers.pop(name, None)
        journey.answers.update({k: (None if v == "" else v)
                                for k, v in report_pages.collected(change_type, form, page.fields).items()})
        _save(citizen, report, journey)
        try:
            validate_change(report.change_type, with_account(citizen, report.change_type, journey.answers),
                            today=today())
        except ChangeInvalid as error:
            report_pages.put_errors(form, error, page.fields)
        if not form.errors:
            return redirect(url_for("correct.check", reference=report.reference))
    else:
        values = report_pages.prefill(change_type, citizen, journey.answers, page.fields)
        form = report_pages.page_form(change_type, page.fields, data=values)
    single, params = report_pages.page_params(change_type, page)
    return render_template(
        "report/question.html", form=form, page=page, change_type=change_type, params=params, single=single,
        back=url_for("correct.check", reference=report.reference), action=request.full_path.rstrip("?"),
    )


@bp.route("/changes/<reference>/correct", methods=["GET", "POST"])
@login_required
def check(reference: str) -> str | Response:
    citizen, report = own_report(reference)
    if not can_correct(report.state):
        return _cannot(report)
    journey = _journey(citizen, report, keep=False)
    db = get_session()
    try:
        plan = plan_correction(db, citizen, report, journey.answers, now=utcnow())
    except NotCorrectable:
        return _cannot(report)
    except ChangeInvalid as error:
        return _to_first_error(report, error)
    form = SendCorrectionForm()
    if form.validate_on_submit() and plan.changed_answers:
        try:
            result = write_correction(db, plan)
        except NotCorrectable:
            return _cannot(report)
        except CorrectedMeanwhile:
            _forget(citizen, journey)
            flash(_("This report was corrected in another window. Check the answers as they are now and "
                    "make your corrections again."), "message")
            return redirect(url_for("correct.check", reference=report.reference))
        _forget(citizen, journey)
        if result.told or result.replaced:
            flash(_("You have corrected report %(reference)s. We will tell the organisations that need to know.",
                    reference=report.reference), "success")
        else:
            flash(_("You have corrected report %(reference)s. None of the organisations is sent the details you "
                    "changed, so nobody needs to be told.", reference=report.reference), "success")
        return redirect(url_for("track.report", reference=report.reference))
    change_type = get_change_type(report.change_type)
    return render_template(
        "track/correct.html", form=form, report=report, change_type=change_type, plan=plan,
        answers=_answer_rows(change_type, plan, report),
        organisations=[_organisation(change_type, o) for o in plan.organisations if o.step != CorrectStep.NOTHING],
    )


def _answer_rows(change_type: ChangeType, plan: Correction, report: ChangeReport) -> list[dict[str, Any]]:
    """The corrected answers as check your answers shows them, each with a Change link to its page."""
    return answer_rows(change_type, plan.change.data, change_url=lambda slug: url_for(
        "correct.question", reference=report.reference, slug=slug))


def _to_first_error(report: ChangeReport, error: ChangeInvalid) -> Response:
    for field_error in error.errors:
        page = report_pages.page_of_field(report.change_type, field_error.field)
        if page is not None:
            return redirect(url_for("correct.question", reference=report.reference, slug=page.slug))
    abort(400)


def _value(change_type: ChangeType, name: str, value: Any, *, gone: str) -> Markup:
    """An answer as the citizen would say it, kept from spilling its text direction into the page."""
    if name == PROTECTED:
        value = bool(value)
    elif value in (None, ""):
        return Markup("<bdi>%s</bdi>") % gone
    return Markup("<bdi>%s</bdi>") % answer_text(change_type, name, value, page_language())


def _organisation(change_type: ChangeType, o: OrganisationCorrection) -> dict[str, Any]:
    """What one organisation will be told: each changed detail it may see, as it was and as it will be."""
    rows = [{"label": _(change_type.field(name).label),
             "before": _value(change_type, name, o.before.get(name), gone=_("Not given")),
             "after": _value(change_type, name, new, gone=_("No longer given"))}
            for name, new in o.changed.items()]
    return {"department": o.department, "name": marked_name(o.department), "step": str(o.step),
            "state": o.original.state, "rows": rows}
