"""Report a change, one thing per page: start, choose the change, its questions, who to tell.

The answers live in the journey (``tellusonce.web.journey``) until "check your
answers" submits them through the domain's one intake function
(``tellusonce.web.report_check``); nothing here writes to the database.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from govuk_frontend_wtf.wtforms_widgets import GovRadioInput
from werkzeug.wrappers import Response
from wtforms import RadioField, SelectChoice

from tellusonce.clock import today, utcnow
from tellusonce.data.departments import list_departments
from tellusonce.domain.changetypes import CHANGE_TYPES, ChangeType, get_change_type
from tellusonce.domain.reporter import with_account
from tellusonce.domain.validation import ChangeInvalid, validate_change
from tellusonce.models import Citizen
from tellusonce.web import report_check, report_pages
from tellusonce.web.auth import current_citizen, login_required
from tellusonce.web.database import get_session, reads_first, start_writing
from tellusonce.web.forms import StripWhitespaceForm
from tellusonce.web.journey import Journey, begin_journey, current_journey, journey_as_stored, save_journey
from tellusonce.web.report_pages import Page
from tellusonce.web.report_recipients import recipients_form, recipients_view, save_recipients

bp = Blueprint("report", __name__, url_prefix="/report")
MESSAGE_CATEGORY = "message"


def _citizen() -> Citizen:
    citizen = current_citizen()
    assert citizen is not None  # login_required
    return citizen


def _journey_or_none() -> Journey | None:
    journey = current_journey(_citizen().id)
    return journey if journey is not None and not journey.submitted else None


def _start_again() -> Response:
    message = _("We could not find your answers. They are kept for a day. Start again by choosing the change.")
    if (MESSAGE_CATEGORY, message) not in session.get("_flashes", []):
        flash(message, MESSAGE_CATEGORY)
    return redirect(url_for("report.change_type"))


@bp.get("")
def start() -> str:
    departments = list_departments(get_session())
    return render_template("report/start.html", change_types=CHANGE_TYPES.values(), departments=departments)


class ChangeTypeForm(StripWhitespaceForm):
    change_type = RadioField(widget=GovRadioInput(), validate_choice=False)


@bp.route("/change", methods=["GET", "POST"])
@login_required
def change_type() -> str | Response:
    journey = _journey_or_none()
    form = ChangeTypeForm(data={"change_type": journey.change_type if journey else None})
    form.change_type.label.text = _("What has changed?")
    form.change_type.choices = [SelectChoice(ct.id, _(ct.label)) for ct in CHANGE_TYPES.values()]
    if form.validate_on_submit():
        chosen = form.change_type.data
        if chosen not in CHANGE_TYPES:
            form.change_type.errors = [_("Select what has changed")]
        else:
            if journey is None or journey.change_type != chosen:
                journey = begin_journey(_citizen().id, chosen)
            return redirect(url_for("report.question", slug=report_pages.pages_for(chosen)[0].slug))
    hints = {ct.id: _(ct.description) for ct in CHANGE_TYPES.values()}
    return render_template("report/change_type.html", form=form, hints=hints)


def _back_from(journey: Journey, page: Page) -> str:
    if request.args.get("from") == "check":
        return url_for("report.check")
    before = report_pages.previous_page(journey.change_type, page)
    return url_for("report.question", slug=before.slug) if before else url_for("report.change_type")


def _after(journey: Journey, page: Page) -> str:
    if request.args.get("from") == "check":
        return url_for("report.check")
    following = report_pages.next_page(journey.change_type, page)
    if following is not None:
        return url_for("report.question", slug=following.slug)
    return url_for("report.organisations")


@bp.route("/questions/<slug>", methods=["GET", "POST"])
@reads_first  # an answer takes SQLite's write lock only for its one UPDATE, after the reads and checks
@login_required
def question(slug: str) -> str | Response:
    journey = _journey_or_none()
    if journey is None:
        return _start_again()
    page = report_pages.find_page(journey.change_type, slug)
    if page is None:
        abort(404)
    change_type = get_change_type(journey.change_type)
    citizen = _citizen()
    if request.method == "POST":
        form = _answered(journey, page, change_type, citizen)
        if start_writing(get_session()):  # the journey read before the lock: written since by another request?
            stored = journey_as_stored(journey)
            if stored is None:
                return _start_again()
            if stored is not journey:  # then answered again on what that request left
                journey = stored
                form = _answered(journey, page, change_type, citizen)
        save_journey(journey)
        if not form.errors:
            return redirect(_after(journey, page))
    else:
        values = report_pages.prefill(change_type, citizen, journey.answers, page.fields)
        form = report_pages.page_form(change_type, page.fields, data=values)
    single, params = report_pages.page_params(change_type, page)
    return render_template(
        "report/question.html", form=form, page=page, change_type=change_type, params=params, single=single,
        back=_back_from(journey, page), action=request.full_path.rstrip("?"),
    )


def _answered(journey: Journey, page: Page, change_type: ChangeType, citizen: Citizen) -> StripWhitespaceForm:
    """The page's answers from the request put into the journey (not yet written), and the form with any errors."""
    form = report_pages.page_form(change_type, page.fields, formdata=request.form)
    form.validate()  # CSRF, and whether the date boxes make a date; the domain judges the rest
    journey.set_answers(page.fields, report_pages.collected(change_type, form, page.fields))
    _domain_errors(form, journey, page, citizen)
    return form


def _domain_errors(form: StripWhitespaceForm, journey: Journey, page: Page, citizen: Citizen) -> bool:
    """Check every answer so far with the domain; show the errors that belong to this page."""
    answers = with_account(citizen, journey.change_type, journey.answers)
    try:
        validate_change(journey.change_type, answers, today=today())
    except ChangeInvalid as error:
        return report_pages.put_errors(form, error, page.fields)
    return False


@bp.route("/organisations", methods=["GET", "POST"])
@login_required
def organisations() -> str | Response:
    journey = _journey_or_none()
    if journey is None:
        return _start_again()
    citizen = _citizen()
    view = recipients_view(get_session(), citizen, journey, now=utcnow())
    form = recipients_form(view, journey, formdata=request.form if request.method == "POST" else None)
    if request.method == "POST" and save_recipients(form, view, journey):
        save_journey(journey)
        return redirect(url_for("report.check"))
    last = report_pages.pages_for(journey.change_type)[-1]
    back = url_for("report.check") if request.args.get("from") == "check" else url_for("report.question", slug=last.slug)
    return render_template("report/organisations.html", form=form, view=view, back=back,
                           change_type=get_change_type(journey.change_type), action=request.full_path.rstrip("?"))


@bp.route("/check", methods=["GET", "POST"])
@reads_first  # sending takes SQLite's write lock only for the writes (report_check.check_or_submit)
@login_required
def check() -> str | Response:
    citizen = _citizen()
    journey = current_journey(citizen.id)
    if journey is None:
        return _start_again()
    if journey.submitted:
        return report_check.already_submitted(journey)
    if not journey.chose_recipients:
        return redirect(url_for("report.organisations"))
    return report_check.check_or_submit(citizen, journey)


@bp.post("/check/drop/<department_id>")
@login_required
def drop(department_id: str) -> Response:
    journey = _journey_or_none()
    if journey is None:
        return _start_again()
    report_check.drop_recipient(journey, department_id)
    return redirect(url_for("report.check") + "#who-is-told")


@bp.get("/confirmation/<reference>")
@login_required
def confirmation(reference: str) -> str:
    context: dict[str, Any] = report_check.confirmation_context(_citizen(), reference)
    return render_template("report/confirmation.html", **context)
