"""Change your password: ``/account/details/password``.

The current password is asked, the new one is checked as at sign-up, and saving it ends every
other session of the account (its ``session_version`` moves on; this browser is given a new
session under the new version, so it stays signed in). A change of email address asked for with
the old password, and any reset link, stop working. The account's address is told.
"""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from tellusonce.clock import utcnow
from tellusonce.data.audit import record_event
from tellusonce.data.citizens import set_password, spend_tokens
from tellusonce.domain.passwords import hash_password, verify_password
from tellusonce.i18n import N_
from tellusonce.mailout.queue import queue_email
from tellusonce.models import TokenPurpose
from tellusonce.settings import Settings
from tellusonce.web.account_forms import ChangePasswordForm
from tellusonce.web.auth import current_citizen, login_required, sign_in
from tellusonce.web.database import get_session
from tellusonce.web.limits import signed_in_form

bp = Blueprint("account_password", __name__, url_prefix="/account")


def _settings() -> Settings:
    return current_app.config["SETTINGS"]


@bp.route("/details/password", methods=["GET", "POST"])
@login_required
@signed_in_form()
def change() -> str | Response:
    citizen = current_citizen()
    assert citizen is not None
    form = ChangePasswordForm(account_email=citizen.email)
    if not form.validate_on_submit():
        return render_template("account/change_password.html", form=form)
    if not verify_password(citizen.password_hash, form.current_password.data):
        form.current_password.errors.append(_("Enter the correct password"))
        return render_template("account/change_password.html", form=form)
    if verify_password(citizen.password_hash, form.password.data):
        form.password.errors.append(_("Enter a new password that is different from your current one"))
        return render_template("account/change_password.html", form=form)
    db = get_session()
    set_password(db, citizen, hash_password(form.password.data))  # every session cookie so far stops working
    spend_tokens(db, citizen, (TokenPurpose.RESET_PASSWORD, TokenPurpose.CHANGE_EMAIL), now=utcnow())
    record_event(db, actor=f"citizen:{citizen.id}", action="account.password_changed", subject_type="citizen",
                 subject_id=citizen.id)
    queue_email(
        db, to=citizen.email, subject=N_("Your password has been changed"), template="password_changed",
        context={"reset_link": _settings().base_url + url_for("account.reset_request")}, purpose="password_changed",
        language=citizen.language, related_id=citizen.id,
    )
    sign_in(citizen)  # this browser: a new session under the new version
    flash(_("Your password has been changed. You are still signed in here, and signed out everywhere else."),
          "success")
    return redirect(url_for("account.profile"))
