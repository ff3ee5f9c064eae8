"""Cancel a sent report: a warning page saying who has it already and who will not now be told,
then the cancellation itself (``tellusonce.application.cancellation``).

Only the report's owner, signed in: another citizen's reference is not found (404). A report
cancelled already gets a page saying so, whether asked for again or posted twice.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response as Redirect

from tellusonce.application.cancellation import AlreadyCancelled, cancel_report, plan_cancellation
from tellusonce.clock import utcnow
from tellusonce.domain.changetypes import get_change_type
from tellusonce.models import ChangeReport
from tellusonce.web.auth import login_required
from tellusonce.web.database import get_session
from tellusonce.web.forms import StripWhitespaceForm
from tellusonce.web.track import own_report

bp = Blueprint("cancel", __name__)


class CancelForm(StripWhitespaceForm):
    """Only the button (and the CSRF token)."""


def _already(report: ChangeReport) -> str:
    return render_template("track/already_cancelled.html", report=report,
                           change_type=get_change_type(report.change_type))


@bp.route("/changes/<reference>/cancel", methods=["GET", "POST"])
@login_required
def cancel(reference: str) -> str | Redirect:
    citizen, report = own_report(reference)
    session = get_session()
    form = CancelForm()
    try:
        if form.validate_on_submit():
            cancel_report(session, citizen, report, now=utcnow())
            flash(_("You have cancelled report %(reference)s.", reference=report.reference), "success")
            return redirect(url_for("track.report", reference=report.reference))
        plan = plan_cancellation(session, citizen, report, now=utcnow())
    except AlreadyCancelled:
        return _already(report)
    return render_template("track/cancel.html", form=form, report=report, plan=plan,
                           change_type=get_change_type(report.change_type))

