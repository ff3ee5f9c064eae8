"""Your consents: what each organisation may receive; grant, limit, withdraw; history; receipts.

Every change is a consent event with its own receipt (``tellusonce.application.consent``).
Before anything already queued is cancelled, the page says how many changes
waiting to be sent will be cancelled, and asks again.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, time, timedelta

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from govuk_frontend_wtf.wtforms_widgets import GovCheckboxesInput
from werkzeug.wrappers import Response as Redirect
from wtforms import HiddenField, SelectChoice, SelectMultipleField

from tellusonce.application.consent import withdraw_all_for_department
from tellusonce.application.consent_changes import (
    cancelled_by_limit,
    cancelled_by_withdrawal,
    consents_by_department,
    set_standing_consent,
)
from tellusonce.clock import utcnow
from tellusonce.data.consent import get_receipt
from tellusonce.data.departments import get_department, list_departments
from tellusonce.data.tracking import consent_history_page
from tellusonce.domain.changetypes import CHANGE_TYPES
from tellusonce.domain.consent import published_receipt
from tellusonce.models import Citizen, Department
from tellusonce.web.auth import current_citizen, login_required
from tellusonce.web.database import get_session
from tellusonce.web.department_names import marked_name, named
from tellusonce.web.display import UK
from tellusonce.web.forms import GovDateField, StripWhitespaceForm
from tellusonce.web.report_pages import field_labels
from tellusonce.web.track import pagination

bp = Blueprint("consent", __name__, url_prefix="/consents")
UNTIL_YEARS = 100


def _citizen() -> Citizen:
    citizen = current_citizen()
    assert citizen is not None  # login_required
    return citizen


def _department(department_id: str) -> Department:
    department = get_department(get_session(), department_id)
    if department is None or not department.active:
        abort(404)
    return department


def _change_words(change_types: list[str]) -> str:
    return ", ".join(_(CHANGE_TYPES[t].label).lower() for t in change_types if t in CHANGE_TYPES)


@bp.get("")
@login_required
def consents() -> str:
    session = get_session()
    entries = consents_by_department(session, _citizen().id, list_departments(session), now=utcnow())
    return render_template("consent/consents.html", entries=entries, change_words=_change_words,
                           change_types=CHANGE_TYPES, field_labels=field_labels, last_day=_last_day)


class ChangeConsentForm(StripWhitespaceForm):
    change_types = SelectMultipleField(widget=GovCheckboxesInput(), validate_choice=False)
    until = GovDateField()
    confirm = HiddenField()


def _latest_until(today: date) -> date:
    """The last day a consent may be given until: far enough for any plan, short of the calendar's end."""
    try:
        return today.replace(year=today.year + UNTIL_YEARS)
    except ValueError:  # 29 February, and the year it lands in is not a leap year
        return today.replace(year=today.year + UNTIL_YEARS, day=28)


def _end_of(day: date) -> datetime:
    """Consent given until a day lasts to the end of that day in the UK."""
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=UK).astimezone(UTC)


def _last_day(expires_at: datetime) -> date:
    return expires_at.astimezone(UK).date() - timedelta(days=1)


@bp.route("/<department_id>/change", methods=["GET", "POST"])
@login_required
def change(department_id: str) -> str | Redirect:
    department = _department(department_id)
    citizen = _citizen()
    session = get_session()
    now = utcnow()
    entry = consents_by_department(session, citizen.id, [department], now=now)[0]
    current = entry.standing[0] if len(entry.standing) == 1 else None
    until = _last_day(current.expires_at) if current and current.expires_at else None
    form = ChangeConsentForm(data={"change_types": entry.change_types, "until": until})
    form.change_types.choices = [SelectChoice(t, _(CHANGE_TYPES[t].label)) for t in CHANGE_TYPES if t in department.receives]
    form.change_types.label.text = named(_("What may %(name)s always be told about?"), name=marked_name(department))
    form.until.label.text = _("Until (optional)")
    form.until.description = _("Leave this empty to keep your consent until you withdraw it. For example, 31 12 2027")
    if form.validate_on_submit():
        chosen = [t for t in form.change_types.data or [] if t in department.receives]
        today = now.astimezone(UK).date()
        if not chosen or len(chosen) != len(form.change_types.data or []):
            form.change_types.errors = [
                _("Select at least one kind of change. To stop telling them anything, withdraw your consent instead.")
            ]
        elif form.until.data is not None and form.until.data < today:
            form.until.errors = [_("The end date must be today or in the future")]
        elif form.until.data is not None and form.until.data > _latest_until(today):
            form.until.errors = [_("The end date must be within %(years)s years from today. To keep your consent "
                                   "until you withdraw it, leave the date empty", years=UNTIL_YEARS)]
        else:
            expires_at = _end_of(form.until.data) if form.until.data else None
            cancelling = cancelled_by_limit(session, citizen.id, department.id, chosen, now=now)
            if cancelling and form.confirm.data != "yes":
                return render_template("consent/confirm_limit.html", form=form, department=department, chosen=chosen,
                                       cancelling=cancelling, change_words=_change_words)
            event, cancelled = set_standing_consent(session, citizen_id=citizen.id, department=department,
                                                    change_types=chosen, expires_at=expires_at, now=now)
            if event is not None:
                message = named(_("%(name)s may now always be told about: %(changes)s."), name=marked_name(department),
                                changes=_change_words(chosen))
                if cancelled:
                    message += " " + ngettext("%(num)s change waiting to be sent to them was cancelled.",
                                              "%(num)s changes waiting to be sent to them were cancelled.", cancelled)
                flash(message, "success")
            return redirect(url_for("consent.consents"))
    hints = {t: _("They would get: %(fields)s", fields=", ".join(field_labels(t, department.fields_for(t))))
             for t in department.receives}
    return render_template("consent/change.html", form=form, department=department, hints=hints)


class ButtonOnlyForm(StripWhitespaceForm):
    pass


@bp.route("/<department_id>/withdraw", methods=["GET", "POST"])
@login_required
def withdraw(department_id: str) -> str | Redirect:
    department = _department(department_id)
    citizen = _citizen()
    session = get_session()
    now = utcnow()
    entry = consents_by_department(session, citizen.id, [department], now=now)[0]
    form = ButtonOnlyForm()
    if form.validate_on_submit():
        if entry.any:
            cancelled = withdraw_all_for_department(session, citizen_id=citizen.id, department_id=department.id, now=now)
            message = named(_("You have withdrawn your consent for %(name)s."), name=marked_name(department))
            if cancelled:
                message += " " + ngettext("%(num)s change waiting to be sent to them was cancelled.",
                                          "%(num)s changes waiting to be sent to them were cancelled.", cancelled)
            flash(message, "success")
        return redirect(url_for("consent.consents"))
    cancelling = cancelled_by_withdrawal(session, citizen.id, department.id, now=now)
    return render_template("consent/withdraw.html", form=form, department=department, entry=entry,
                           cancelling=cancelling, change_words=_change_words)


@bp.get("/history")
@login_required
def history() -> str:
    session = get_session()
    try:
        number = max(1, int(request.args.get("page", "1")))
    except ValueError:
        number = 1
    page = consent_history_page(session, _citizen().id, page=number)
    names = {d.id: d.name for d in list_departments(session, include_inactive=True)}
    return render_template("consent/history.html", page=page, names=names, change_words=_change_words,
                           full_width=True, pagination=pagination("consent.history", page.number, page.pages))


@bp.get("/receipts/<receipt_id>.json")
@login_required
def receipt(receipt_id: str) -> Response:
    try:
        key = uuid.UUID(receipt_id)
    except ValueError:
        abort(404)
    event = get_receipt(get_session(), citizen_id=_citizen().id, receipt_id=key)
    if event is None:
        abort(404)
    body = published_receipt(event.receipt, base_url=current_app.config["SETTINGS"].base_url)
    response = Response(json.dumps(body, ensure_ascii=False, indent=2), mimetype="application/json")
    response.headers["Content-Disposition"] = f'attachment; filename="consent-receipt-{key}.json"'
    return response
