"""Confirming a change sent by email: ``/confirm-email-change/<token>``.

The mail listener holds an emailed change and sends the citizen's own address a
single-use link here. Opening the link (GET) changes nothing, so a mail
scanner that follows links confirms nothing: the page shows exactly what each
organisation will receive, and only pressing the button (POST) spends the token
and submits the held change through the domain's intake.

The reference is shown only to whoever is entitled to it: the citizen the report
belongs to (signed in), or the browser that has just confirmed it (remembered in
its session). Anyone else opening the "confirmed" page of a reference gets a 404,
and a spent link says only that it has been used, so neither a guessed reference
nor an old link in someone else's hands tells them anything.
"""

from __future__ import annotations

import logging

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask import session as browser_session
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.wrappers import Response

from tellusonce.application.intake import (
    ChangeRequest,
    IntakeResult,
    Plan,
    RecipientStatus,
    confirm_held_change,
    plan_change,
)
from tellusonce.clock import utcnow
from tellusonce.data.citizens import use_token
from tellusonce.data.inbound import confirmation_token
from tellusonce.domain.changetypes import get_change_type
from tellusonce.domain.reporter import account_updates, detail_names, in_words
from tellusonce.domain.validation import ChangeInvalid
from tellusonce.i18n import N_
from tellusonce.mailout.queue import queue_email
from tellusonce.mailout.render import answer_text
from tellusonce.models import ChangeReport, Citizen, EmailToken, ReportState, TokenPurpose
from tellusonce.web.auth import current_citizen
from tellusonce.web.database import get_session
from tellusonce.web.department_names import marked_name, organisation_name
from tellusonce.web.language import page_language

log = logging.getLogger(__name__)
bp = Blueprint("email_confirm", __name__, url_prefix="/confirm-email-change")
PURPOSE = TokenPurpose.CONFIRM_EMAILED_CHANGE
CONFIRMED_KEY = "confirmed_references"  # the references this browser confirmed, newest last
CONFIRMED_KEPT = 5


def _held(token: str) -> tuple[EmailToken | None, ChangeReport | None, bool]:
    """The token, its report, and whether it can still confirm the report."""
    session = get_session()
    row = confirmation_token(session, token)
    report = session.get(ChangeReport, row.report_id) if row is not None and row.report_id else None
    usable = (row is not None and report is not None and row.used_at is None and row.expires_at > utcnow()
              and report.state == ReportState.PENDING_CONFIRMATION)
    return row, report, usable


def _spent(row: EmailToken | None, report: ChangeReport | None) -> bool:
    return row is not None and row.used_at is not None and report is not None


def _may_see(report: ChangeReport) -> bool:
    """Whether this browser may see the reference: its citizen's own report, or one it confirmed."""
    citizen = current_citizen()
    if citizen is not None and citizen.id == report.citizen_id:
        return True
    return report.reference in browser_session.get(CONFIRMED_KEY, [])


def _remember(report: ChangeReport) -> None:
    seen = [r for r in browser_session.get(CONFIRMED_KEY, []) if r != report.reference]
    browser_session[CONFIRMED_KEY] = [*seen, report.reference][-CONFIRMED_KEPT:]


def _spent_answer(report: ChangeReport) -> Response | tuple[str, int]:
    """A link already used: to whoever may see the report, its page; to anyone else, only that it was used."""
    if report.state == ReportState.SUBMITTED and _may_see(report):
        return redirect(url_for("email_confirm.done", reference=report.reference), code=303)
    return render_template("email_confirm/used.html"), 410


def _plan(report: ChangeReport) -> Plan:
    held = report.pending_request or {}
    request = ChangeRequest(
        change_type=report.change_type, answers=report.answers, recipients=held.get("recipients", []),
        consent=held.get("consent", {}), channel=report.channel, submission_key=report.submission_key,
        declaration=held.get("declaration"),
    )
    return plan_change(get_session(), report.citizen, request, now=utcnow(), report_id=report.id)


@bp.get("/<token>")
def check(token: str) -> str | Response | tuple[str, int]:
    row, report, usable = _held(token)
    if _spent(row, report):
        assert report is not None
        return _spent_answer(report)
    if not usable or report is None:
        return render_template("email_confirm/unusable.html"), 404
    try:
        plan = _plan(report)
    except ChangeInvalid:  # a date that was fine yesterday may be out of range today
        return render_template("email_confirm/unusable.html", invalid=True), 409
    change_type = get_change_type(report.change_type)
    previews = [
        {"name": marked_name(rp.department),
         "rows": [{"key": {"text": _(change_type.field(n).label)},
                   "value": {"text": answer_text(change_type, n, plan.change.data.get(n), page_language())}}
                  for n in rp.fields if n in plan.change.data]}
        for rp in plan.queued
    ]
    not_told = [marked_name(rp.department) for rp in plan.recipients
                if rp.status in (RecipientStatus.NEEDS_CONSENT, RecipientStatus.NOT_HANDLED)]
    names = [_(name) for name in detail_names(account_updates(report.citizen, change_type.id, plan.change.data))]
    held = report.pending_request or {}
    return render_template("email_confirm/check.html", report=report, change_type=change_type, previews=previews,
                           not_told=not_told, token=token,
                           account_details=in_words(names, page_language()) if names else None,
                           update_details="yes" if held.get("update_details") else "no")


@bp.post("/<token>")
def confirm(token: str) -> Response | tuple[str, int]:
    session = get_session()
    row, report, usable = _held(token)
    if _spent(row, report):  # pressed twice, or an old link
        assert report is not None
        return _spent_answer(report)
    if not usable or report is None or use_token(session, token, PURPOSE, now=utcnow()) is None:
        return render_template("email_confirm/unusable.html"), 404
    # The page asks whether to update the account (chosen as the email was held); without an answer, as held.
    answer = request.form.get("update_details")
    update_details = {"yes": True, "no": False}.get(answer or "")
    try:
        result = confirm_held_change(session, report, now=utcnow(), update_details=update_details)
    except ChangeInvalid:
        return render_template("email_confirm/unusable.html", invalid=True), 409
    _acknowledge(report.citizen, result)
    _remember(report)
    log.info("emailed change confirmed", extra={"event": "report_confirmed", "report_id": str(report.id)})
    return redirect(url_for("email_confirm.done", reference=report.reference), code=303)


def _acknowledge(citizen: Citizen, result: IntakeResult) -> None:
    report = result.report
    settings = current_app.config["SETTINGS"]
    queue_email(
        get_session(), to=citizen.email, subject=N_("Change reported: %(reference)s"), template="report_submitted",
        context={
            "reference": report.reference,
            "change_label": get_change_type(report.change_type).label,
            "organisations": [organisation_name(o.department, citizen.language) for o in result.outcomes
                              if o.status == RecipientStatus.QUEUED],
            "link": settings.base_url + url_for("track.report", reference=report.reference),
        },
        purpose="mail_confirmed", language=citizen.language, related_id=report.id,
    )


@bp.get("/done/<reference>")
def done(reference: str) -> str:
    """Says the change was sent, with its reference: only to its citizen or the browser that confirmed it.

    To anyone else every reference is not found, whether or not it exists (no oracle).
    """
    found = get_session().scalar(select(ChangeReport).where(ChangeReport.reference == reference,
                                                            ChangeReport.state == ReportState.SUBMITTED))
    if found is None or not _may_see(found):
        abort(404)
    return render_template("email_confirm/done.html", reference=found.reference)
