"""Your details: whether we email you about what happens to your reports (on unless turned off).

Its own small page, linked from a row of Your details: every organisation has the change, or one
could not be told (``services/dispatch/notices.py`` sends them; docs/account-details.md).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from govuk_frontend_wtf.wtforms_widgets import GovRadioInput, GovSubmitInput
from werkzeug.wrappers import Response
from wtforms import RadioField, SelectChoice, SubmitField
from wtforms.validators import ValidationError

from tellusonce.data.audit import record_event
from tellusonce.data.citizens import set_report_emails
from tellusonce.web.auth import current_citizen, login_required
from tellusonce.web.database import get_session
from tellusonce.web.forms import StripWhitespaceForm

bp = Blueprint("report_emails", __name__, url_prefix="/account")

QUESTION = lazy_gettext("Do you want us to email you about what happens to your changes?")


class YesOrNo:
    """Yes or no (a radio answer altered by hand is neither)."""

    def __call__(self, form: Any, field: Any) -> None:
        if field.data not in ("yes", "no"):
            raise ValidationError(_("Select yes if you want us to email you about what happens to your changes"))


class ReportEmailsForm(StripWhitespaceForm):
    emails = RadioField(QUESTION, choices=[SelectChoice("yes", lazy_gettext("Yes")), SelectChoice("no", lazy_gettext("No"))],
                        validators=[YesOrNo()], validate_choice=False, widget=GovRadioInput())
    submit = SubmitField(lazy_gettext("Save"), widget=GovSubmitInput())


@bp.route("/details/report-emails", methods=["GET", "POST"])
@login_required
def report_emails() -> str | Response:
    citizen = current_citizen()
    assert citizen is not None
    form = ReportEmailsForm()
    if not form.is_submitted():
        form.emails.data = "yes" if citizen.report_emails else "no"
    if not form.validate_on_submit():
        return render_template("account/report_emails.html", form=form)
    wanted = form.emails.data == "yes"
    if wanted != citizen.report_emails:
        set_report_emails(get_session(), citizen, wanted)
        record_event(get_session(), actor=f"citizen:{citizen.id}", action="account.report_emails_changed",
                     subject_type="citizen", subject_id=citizen.id, details={"on": wanted})
    flash(_("We will email you about what happens to your changes.") if wanted
          else _("We will not email you about what happens to your changes."), "success")
    return redirect(url_for("account.profile"))
