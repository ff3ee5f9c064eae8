"""Close your account: ``/account/close`` (the warning, the choice, the button) and ``/account/closed``.

The warning page says what closing deletes and when, what we must keep and for how long (both from
the retention schedule the service enforces), and lists the organisations sent anything about the
account: a box, not ticked, asks for each of them to be told (UK GDPR Art. 19). The password is
asked again, as for changing the email address. Closing (``tellusonce.application.closing``) and
the confirmation email to the account's address are one transaction, the request's; then this
browser is signed out (every other session of the account ended with the closing) and shown the
done page, in the signed-out layout.
"""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from govuk_frontend_wtf.wtforms_widgets import GovCheckboxInput, GovSubmitInput
from werkzeug.wrappers import Response
from wtforms import BooleanField, PasswordField, SubmitField
from wtforms.validators import InputRequired

from tellusonce.application.closing import ClosingPlan, close_account, plan_closing
from tellusonce.clock import utcnow
from tellusonce.domain.passwords import verify_password
from tellusonce.domain.retention import Kind, Schedule
from tellusonce.i18n import N_
from tellusonce.mailout.queue import queue_email
from tellusonce.models import Citizen
from tellusonce.settings import Settings
from tellusonce.web.auth import current_citizen, login_required, sign_out
from tellusonce.web.database import get_session
from tellusonce.web.department_names import organisation_name
from tellusonce.web.forms import GovukPasswordInput, StripWhitespaceForm
from tellusonce.web.limits import signed_in_form
from tellusonce.web.retention_schedule import period_text

bp = Blueprint("account_close", __name__, url_prefix="/account")


class CloseAccountForm(StripWhitespaceForm):
    tell_organisations = BooleanField(
        lazy_gettext("Tell these organisations that I have closed my account"),
        description=lazy_gettext("They will be sent only the references of the reports they were sent, "
                                 "and an id for your account that means nothing to anyone else."),
        widget=GovCheckboxInput())
    password = PasswordField(
        lazy_gettext("Your password"),
        validators=[InputRequired(message=lazy_gettext("Enter your password"))],
        widget=GovukPasswordInput(),
        render_kw={"autocomplete": "current-password"},
    )
    submit = SubmitField(lazy_gettext("Close your account"), widget=GovSubmitInput())


def _schedule() -> Schedule:
    return current_app.config["RETENTION"]


def _periods() -> dict[str, str]:
    """How long each kind the warning page names is kept, in the page's language."""
    return {kind.value: period_text(_schedule().rule(kind).keep) for kind in
            (Kind.CLOSED_ACCOUNTS, Kind.AUDIT_EVENTS, Kind.INBOUND_PROCESSED, Kind.INBOUND_QUARANTINED,
             Kind.OUTGOING_EMAIL)}


@bp.route("/close", methods=["GET", "POST"])
@login_required
@signed_in_form()
def close() -> str | Response:
    citizen = current_citizen()
    assert citizen is not None
    plan = plan_closing(get_session(), citizen)
    form = CloseAccountForm()
    if form.validate_on_submit():
        if verify_password(citizen.password_hash, form.password.data):
            return _close(citizen, plan, tell=bool(form.tell_organisations.data))
        form.password.errors.append(_("Enter the correct password"))
    return render_template("account/close.html", form=form, plan=plan, periods=_periods())


def _close(citizen: Citizen, plan: ClosingPlan, *, tell: bool) -> Response:
    """Close the account and queue the confirmation email (to the address it had), in the request's
    transaction; sign this browser out (closing ended every other session)."""
    db = get_session()
    settings: Settings = current_app.config["SETTINGS"]
    address, language = citizen.email, citizen.language
    closed = close_account(db, citizen, tell_organisations=tell, now=utcnow())
    names = [organisation_name(d, language) for d, told in plan.organisations if told.department_id in closed.told]
    queue_email(
        db, to=address, subject=N_("Your Tell us once account is closed"), template="account_closed",
        context={"told": names, "cancelled": closed.cancelled, "withdrawn": len(closed.withdrawn),
                 "deleted_after_days": _schedule().rule(Kind.CLOSED_ACCOUNTS).keep.days,
                 "contact": settings.data_protection_contact,
                 "create_link": settings.base_url + url_for("account.register")},
        purpose="account_closed", language=language, related_id=citizen.id,
    )
    sign_out(everywhere=False)
    session["closed_account"] = {"address": address, "told": len(closed.told)}
    return redirect(url_for("account_close.closed"))


@bp.get("/closed")
def closed() -> str | Response:
    done = session.get("closed_account")
    if not done or current_citizen() is not None:
        return redirect(url_for("public.home"))
    return render_template("account/closed.html", address=done.get("address"), told=done.get("told", 0))
