"""Accounts: create one, confirm the address, sign in and out, reset the password, your details.

No page says whether an address has an account: creating an account and asking
for a reset link give the same answer either way (the owner of an address that
already has an account is emailed instead), and signing in with an unknown
address takes as long as with a wrong password. Emailed links open a page with a
button, and only the button spends the token, so a mail scanner that follows
links cannot use them up.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from tellusonce.clock import utcnow
from tellusonce.data.audit import record_event
from tellusonce.data.citizens import (
    EmailTaken,
    create_citizen,
    find_token,
    get_citizen,
    get_citizen_by_email,
    issue_token,
    mark_email_verified,
    set_language,
    set_password,
    spend_open_tokens,
    spend_tokens,
    update_profile,
    use_token,
)
from tellusonce.domain.fields import (
    canonical_email,
    display_phone,
    normalise_ni_number,
    normalise_phone,
    normalise_postcode,
)
from tellusonce.domain.passwords import hash_password, needs_rehash, verify_password
from tellusonce.extensions import limiter
from tellusonce.i18n import N_
from tellusonce.mailout.queue import queue_email
from tellusonce.models import Citizen, SignInMethod, TokenPurpose
from tellusonce.settings import Settings
from tellusonce.web.account_forms import (
    ButtonForm,
    NewPasswordForm,
    ProfileForm,
    RegisterForm,
    ResetRequestForm,
    SignInForm,
)
from tellusonce.web.auth import current_citizen, login_required, redirect_next, safe_next, sign_in, sign_out
from tellusonce.web.database import get_session
from tellusonce.web.language import page_language
from tellusonce.web.limits import account_form, per_client
from tellusonce.web.sign_ins import note_sign_in

bp = Blueprint("account", __name__, url_prefix="/account")
log = logging.getLogger(__name__)

VERIFY_LIFETIME = timedelta(hours=24)
RESET_LIFETIME = timedelta(hours=1)


def _settings() -> Settings:
    return current_app.config["SETTINGS"]


def _link(endpoint: str, **values: Any) -> str:
    return _settings().base_url + url_for(endpoint, **values)


def _send_verification(citizen: Citizen) -> None:
    db = get_session()
    token = issue_token(db, citizen, TokenPurpose.VERIFY_EMAIL, lifetime=VERIFY_LIFETIME, now=utcnow())
    queue_email(
        db, to=citizen.email, subject=N_("Confirm your email address"), template="verify_email",
        context={"link": _link("account.verify", token=token), "hours": 24}, purpose="verify_email",
        language=citizen.language, related_id=citizen.id,
    )


def _check_your_email(address: str, kind: str) -> Response:
    session["check_email"] = {"address": address, "kind": kind}
    return redirect(url_for("account.check_email"))


@bp.route("/create", methods=["GET", "POST"])
@account_form
def register() -> str | Response:
    if current_citizen() is not None:
        return redirect(url_for("account.profile"))
    form = RegisterForm()
    if form.language.data is None:  # asked with the page's language chosen
        form.language.data = page_language()
    if not form.validate_on_submit():
        return render_template("account/register.html", form=form)
    db = get_session()
    address = canonical_email(form.email.data)
    password_hash = hash_password(form.password.data)  # hashed either way: same time either way
    citizen = get_citizen_by_email(db, address)
    if citizen is None:
        try:
            citizen = create_citizen(db, email=address, password_hash=password_hash, language=form.language.data)
        except EmailTaken:
            citizen = get_citizen_by_email(db, address)
        else:
            record_event(db, actor=f"citizen:{citizen.id}", action="account.created", subject_type="citizen", subject_id=citizen.id)
            _send_verification(citizen)
            return _check_your_email(address, "verify")
    if citizen is not None:
        queue_email(
            db, to=citizen.email, subject=N_("You already have an account"), template="account_exists",
            context={"sign_in_link": _link("account.sign_in"), "reset_link": _link("account.reset_request")},
            purpose="account_exists", language=citizen.language, related_id=citizen.id,
        )
    return _check_your_email(address, "verify")


@bp.get("/check-email")
def check_email() -> str:
    pending = session.get("check_email") or {}
    return render_template("account/check_email.html", address=pending.get("address"), kind=pending.get("kind", "verify"))


@bp.route("/verify/<token>", methods=["GET", "POST"])
def verify(token: str) -> str | Response | tuple[str, int]:
    db = get_session()
    form = ButtonForm()
    if find_token(db, token, TokenPurpose.VERIFY_EMAIL, now=utcnow()) is None:
        return render_template("account/link_expired.html", kind="verify"), 404
    if not form.validate_on_submit():
        return render_template("account/verify.html", form=form)
    spent = use_token(db, token, TokenPurpose.VERIFY_EMAIL, now=utcnow())
    citizen = get_citizen(db, spent.citizen_id) if spent else None
    if citizen is None:
        return render_template("account/link_expired.html", kind="verify"), 404
    mark_email_verified(citizen, now=utcnow())
    spend_open_tokens(db, citizen, TokenPurpose.VERIFY_EMAIL, now=utcnow())
    record_event(db, actor=f"citizen:{citizen.id}", action="account.verified", subject_type="citizen", subject_id=citizen.id)
    sign_in(citizen)
    note_sign_in(citizen, SignInMethod.EMAIL_LINK)
    flash(_("Your email address is confirmed and you are signed in."), "success")
    return redirect(url_for("account.profile"))


@bp.route("/sign-in", methods=["GET", "POST"], endpoint="sign_in")
@account_form
def sign_in_page() -> str | Response:
    form = SignInForm()
    if request.method == "GET":
        form.next.data = safe_next(request.args.get("next")) or ""
        if current_citizen() is not None:
            return redirect_next("public.home")
    if not form.validate_on_submit():
        return render_template("account/sign_in.html", form=form)
    db = get_session()
    citizen = get_citizen_by_email(db, canonical_email(form.email.data))
    if not verify_password(citizen.password_hash if citizen else None, form.password.data) or citizen is None:
        form.password.errors.append(_("Enter the email address and password for your account"))
        if citizen is not None:
            note_sign_in(citizen, SignInMethod.PASSWORD, succeeded=False)
        log.info("sign-in refused", extra={"event": "sign_in_refused"})
        return render_template("account/sign_in.html", form=form)
    if needs_rehash(citizen.password_hash or ""):
        citizen.password_hash = hash_password(form.password.data)
    if not citizen.is_verified:
        session["unverified_citizen"] = str(citizen.id)
        return redirect(url_for("account.unverified"))
    sign_in(citizen)
    note_sign_in(citizen, SignInMethod.PASSWORD)
    record_event(db, actor=f"citizen:{citizen.id}", action="account.signed_in", subject_type="citizen", subject_id=citizen.id)
    return redirect_next("public.home")


@bp.route("/unverified", methods=["GET", "POST"])
@limiter.limit(per_client, methods=["POST"])
def unverified() -> str | Response:
    """Signed in with the right password before confirming the address: offer the link again."""
    citizen = get_citizen(get_session(), session.get("unverified_citizen") or "")
    if citizen is None or citizen.is_verified:
        return redirect(url_for("account.sign_in"))
    form = ButtonForm()
    if form.validate_on_submit():
        _send_verification(citizen)
        return _check_your_email(citizen.email, "verify")
    return render_template("account/unverified.html", form=form, address=citizen.email)


@bp.route("/sign-out", methods=["GET", "POST"], endpoint="sign_out")
def sign_out_page() -> str | Response:
    form = ButtonForm()
    if current_citizen() is None:
        return redirect(url_for("public.home"))
    if form.validate_on_submit():
        citizen = current_citizen()
        sign_out()
        if citizen is not None:
            record_event(get_session(), actor=f"citizen:{citizen.id}", action="account.signed_out",
                         subject_type="citizen", subject_id=citizen.id)
        return redirect(url_for("account.signed_out"))
    return render_template("account/sign_out.html", form=form)


@bp.get("/signed-out")
def signed_out() -> str:
    return render_template("account/signed_out.html")


@bp.route("/reset-password", methods=["GET", "POST"])
@account_form
def reset_request() -> str | Response:
    form = ResetRequestForm()
    if not form.validate_on_submit():
        return render_template("account/reset_request.html", form=form)
    db = get_session()
    address = canonical_email(form.email.data)
    citizen = get_citizen_by_email(db, address)
    if citizen is not None:
        token = issue_token(db, citizen, TokenPurpose.RESET_PASSWORD, lifetime=RESET_LIFETIME, now=utcnow())
        queue_email(
            db, to=citizen.email, subject=N_("Reset your password"), template="reset_password",
            context={"link": _link("account.reset_password", token=token), "hours": 1},
            purpose="reset_password", language=citizen.language, related_id=citizen.id,
        )
    return _check_your_email(address, "reset")


@bp.route("/reset-password/<token>", methods=["GET", "POST"])
def reset_password(token: str) -> str | Response | tuple[str, int]:
    db = get_session()
    found = find_token(db, token, TokenPurpose.RESET_PASSWORD, now=utcnow())
    citizen = get_citizen(db, found.citizen_id) if found else None
    if citizen is None:
        return render_template("account/link_expired.html", kind="reset"), 404
    form = NewPasswordForm(account_email=citizen.email)
    if not form.validate_on_submit():
        return render_template("account/reset_password.html", form=form)
    if use_token(db, token, TokenPurpose.RESET_PASSWORD, now=utcnow()) is None:
        return render_template("account/link_expired.html", kind="reset"), 404
    set_password(db, citizen, hash_password(form.password.data))
    # Older reset links, and a change of email address asked for with the old password, stop working.
    spend_tokens(db, citizen, (TokenPurpose.RESET_PASSWORD, TokenPurpose.CHANGE_EMAIL), now=utcnow())
    # The link proved the address is theirs.
    mark_email_verified(citizen, now=utcnow())
    record_event(db, actor=f"citizen:{citizen.id}", action="account.password_reset", subject_type="citizen", subject_id=citizen.id)
    queue_email(
        db, to=citizen.email, subject=N_("Your password has been changed"), template="password_changed",
        context={"reset_link": _link("account.reset_request")}, purpose="password_changed",
        language=citizen.language, related_id=citizen.id,
    )
    sign_in(citizen)
    note_sign_in(citizen, SignInMethod.EMAIL_LINK)
    flash(_("Your password has been changed. You are signed in, and signed out everywhere else."), "success")
    return redirect(url_for("account.profile"))


@bp.route("/details", methods=["GET", "POST"])
@login_required
def profile() -> str | Response:
    citizen = current_citizen()
    assert citizen is not None
    form = ProfileForm(obj=citizen)
    if not form.is_submitted() and citizen.phone:
        form.phone.data = display_phone(citizen.phone)  # as they would write it; kept as +44…
    if not form.validate_on_submit():
        return render_template("account/profile.html", form=form, citizen=citizen)
    update_profile(
        get_session(),
        citizen,
        {
            "given_names": form.given_names.data,
            "family_name": form.family_name.data,
            "date_of_birth": form.date_of_birth.data,
            "ni_number": normalise_ni_number(form.ni_number.data) if form.ni_number.data else None,
            "address_line_1": form.address_line_1.data,
            "address_line_2": form.address_line_2.data,
            "town": form.town.data,
            "postcode": normalise_postcode(form.postcode.data) if form.postcode.data else None,
            "phone": normalise_phone(form.phone.data) if form.phone.data else None,
        },
    )
    set_language(get_session(), citizen, form.language.data)
    flash(_("Your details have been saved."), "success")
    return redirect_next("account.profile")
