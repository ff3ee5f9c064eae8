"""Change your email address: ``/account/details/email``, confirmed from the new address.

Asking needs the account's current password, so a session left open on a shared computer
cannot hand the account to someone else's mailbox. The new address is sent a single-use link
(24 hours) and the old one a notice saying what was asked and what to do if it was not them:
reset the password, which cancels the change. The page answers the same whether or not the new
address already has an account (no enumeration): if it has one, no link is made, and its owner
is told someone tried to use their address, as creating an account does.

The link can be followed in any browser, signed in or not (it proves the new mailbox, as the
password proved the asker); it signs nobody in. A browser signed in to another account is
refused and the link kept. Following it changes the account's address, makes every link sent
to the old address stop working, and sends the old address a last notice. From then on the
mail listener recognises the new address, and no longer the old one, as the account's.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, session, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from tellusonce.clock import utcnow
from tellusonce.data.audit import record_event
from tellusonce.data.citizens import (
    EmailTaken,
    change_email,
    find_token,
    get_citizen,
    get_citizen_by_email,
    issue_token,
    spend_open_tokens,
    use_token,
)
from tellusonce.domain.fields import canonical_email
from tellusonce.domain.passwords import verify_password
from tellusonce.i18n import N_
from tellusonce.mailout.queue import queue_email
from tellusonce.models import Citizen, TokenPurpose
from tellusonce.settings import Settings
from tellusonce.web.account_forms import ButtonForm, ChangeEmailForm
from tellusonce.web.auth import current_citizen, login_required
from tellusonce.web.database import get_session
from tellusonce.web.limits import signed_in_form

bp = Blueprint("account_email", __name__, url_prefix="/account")
PURPOSE = TokenPurpose.CHANGE_EMAIL
CHANGE_LIFETIME = timedelta(hours=24)
PENDING_KEY = "new_email_sent_to"


def _settings() -> Settings:
    return current_app.config["SETTINGS"]


def _link(endpoint: str, **values: Any) -> str:
    return _settings().base_url + url_for(endpoint, **values)


def masked_email(address: str) -> str:
    """The address as a notice to the other one shows it: "ne•••@example.com" (the owner knows it)."""
    local, _at, domain = address.rpartition("@")
    return f"{local[:2]}•••@{domain}"


@bp.route("/details/email", methods=["GET", "POST"])
@login_required
@signed_in_form(per_typed_address=True)
def change() -> str | Response:
    citizen = current_citizen()
    assert citizen is not None
    form = ChangeEmailForm()
    if not form.validate_on_submit():
        return render_template("account/change_email.html", form=form, citizen=citizen)
    address = canonical_email(form.email.data)
    if address == citizen.email:
        form.email.errors.append(_("Enter a different email address from the one you use now"))
    elif not verify_password(citizen.password_hash, form.password.data):
        form.password.errors.append(_("Enter the correct password"))
    if form.errors:
        return render_template("account/change_email.html", form=form, citizen=citizen)
    _ask_to_change(citizen, address)
    session[PENDING_KEY] = address
    return redirect(url_for("account_email.sent"))


def _ask_to_change(citizen: Citizen, address: str) -> None:
    """Email the new address a link (or, if it has an account, its owner a note) and the old a notice."""
    db = get_session()
    now = utcnow()
    owner = get_citizen_by_email(db, address)
    if owner is None:
        spend_open_tokens(db, citizen, PURPOSE, now=now)  # only the latest request can be confirmed
        token = issue_token(db, citizen, PURPOSE, lifetime=CHANGE_LIFETIME, now=now, new_email=address)
        queue_email(
            db, to=address, subject=N_("Confirm your new email address"), template="change_email_confirm",
            context={"link": _link("account_email.confirm", token=token), "hours": 24}, purpose="change_email_confirm",
            language=citizen.language, related_id=citizen.id,
        )
    else:
        queue_email(
            db, to=owner.email, subject=N_("Someone tried to use your email address"), template="change_email_in_use",
            context={"sign_in_link": _link("account.sign_in")}, purpose="change_email_in_use",
            language=owner.language, related_id=owner.id,
        )
    queue_email(
        db, to=citizen.email, subject=N_("You asked to change your email address"), template="change_email_requested",
        context={"new_address": masked_email(address), "hours": 24, "reset_link": _link("account.reset_request")},
        purpose="change_email_requested", language=citizen.language, related_id=citizen.id,
    )
    record_event(db, actor=f"citizen:{citizen.id}", action="account.email_change_asked", subject_type="citizen",
                 subject_id=citizen.id)


@bp.get("/details/email/sent")
@login_required
def sent() -> str:
    return render_template("account/change_email_sent.html", address=session.get(PENDING_KEY))


@bp.route("/confirm-new-email/<token>", methods=["GET", "POST"])
def confirm(token: str) -> str | Response | tuple[str, int]:
    db = get_session()
    found = find_token(db, token, PURPOSE, now=utcnow())
    citizen = get_citizen(db, found.citizen_id) if found is not None else None
    if found is None or citizen is None or not found.new_email:
        return render_template("account/link_expired.html", kind="change_email"), 404
    signed_in = current_citizen()
    if signed_in is not None and signed_in.id != citizen.id:
        return render_template("account/change_email_other_account.html"), 403
    form = ButtonForm()
    if not form.validate_on_submit():
        return render_template("account/change_email_confirm.html", form=form, address=found.new_email)
    spent = use_token(db, token, PURPOSE, now=utcnow())
    if spent is None or spent.new_email is None:
        return render_template("account/link_expired.html", kind="change_email"), 404
    old_address, new_address = citizen.email, spent.new_email
    try:
        change_email(db, citizen, new_address, now=utcnow())
    except EmailTaken:
        # Someone made an account with it since the link was sent; the link's reader owns it.
        return render_template("account/change_email_taken.html", address=new_address), 409
    record_event(db, actor=f"citizen:{citizen.id}", action="account.email_changed", subject_type="citizen",
                 subject_id=citizen.id)
    queue_email(
        db, to=old_address, subject=N_("Your email address has been changed"), template="email_changed",
        context={"new_address": masked_email(new_address), "contact": _settings().data_protection_contact},
        purpose="email_changed", language=citizen.language, related_id=citizen.id,
    )
    session.pop(PENDING_KEY, None)
    if signed_in is not None:
        flash(_("Your email address has been changed to %(address)s.", address=new_address), "success")
        return redirect(url_for("account.profile"))
    return render_template("account/email_changed.html", address=new_address)
