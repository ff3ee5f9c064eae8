"""Follow your changes: every report, what happened to each organisation's copy, who was told what.

Nothing here needs JavaScript to stay current: a report page has a "Check
again" link, and the citizen can ask for the page to update itself every few
seconds (an HTTP ``Refresh`` header they switch on and off, so the page never
moves under someone who did not ask for it, which WCAG 2.2.1 forbids).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, abort, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext

from tellusonce.clock import utcnow
from tellusonce.data.tracking import (
    all_disclosures,
    get_report,
    last_attempts,
    list_disclosures,
    list_reports,
    report_notifications,
)
from tellusonce.domain.cancellation import can_cancel
from tellusonce.domain.changetypes import CHANGE_TYPES, get_change_type
from tellusonce.domain.correction import can_correct
from tellusonce.models import ChangeReport, Citizen, Notification, NotificationKind, NotificationState, ReportState
from tellusonce.web import display
from tellusonce.web.auth import current_citizen, login_required
from tellusonce.web.correction_display import (
    corrected_before_sending,
    correction_view,
    corrections_by_original,
    shown_copies,
)
from tellusonce.web.database import get_session
from tellusonce.web.department_names import marked_name, organisation_name

bp = Blueprint("track", __name__)

REFRESH_SECONDS = 15
REPORTS_PER_PAGE = 25
DISCLOSURES_PER_PAGE = 50
CSV_COLUMNS = (lazy_gettext("Date sent"), lazy_gettext("Organisation"), lazy_gettext("Reference"),
               lazy_gettext("Change"), lazy_gettext("Detail"), lazy_gettext("Value"), lazy_gettext("Date received"),
               lazy_gettext("Consent receipt"))
# Excel reads a CSV file as UTF-8 only when it starts with the byte-order mark (else "SiÃ¢n" for "Siân").
BOM = "\ufeff"


def _citizen() -> Citizen:
    citizen = current_citizen()
    assert citizen is not None  # login_required
    return citizen


def own_report(reference: str) -> tuple[Citizen, ChangeReport]:
    """The signed-in citizen and their report ``reference``; 404 for anyone else's, or none."""
    citizen = _citizen()
    found = get_report(get_session(), citizen.id, reference=reference)
    if found is None:
        abort(404)
    return citizen, found


def _page_arg() -> int:
    try:
        return max(1, int(request.args.get("page", "1")))
    except ValueError:
        return 1


def pagination(endpoint: str, number: int, pages: int) -> dict[str, Any] | None:
    """Parameters for govukPagination, or None when everything fits on one page."""
    if pages <= 1:
        return None
    shown = sorted({1, pages, number - 1, number, number + 1} & set(range(1, pages + 1)))
    items: list[dict[str, Any]] = []
    for i, n in enumerate(shown):
        if i and n - shown[i - 1] > 1:
            items.append({"ellipsis": True})
        items.append({"number": n, "href": url_for(endpoint, page=n), "current": n == number,
                      "visuallyHiddenText": _("Page %(number)s", number=n)})
    params: dict[str, Any] = {"items": items, "landmarkLabel": _("Pages")}
    if number > 1:
        params["previous"] = {"href": url_for(endpoint, page=number - 1), "text": _("Previous")}
    if number < pages:
        params["next"] = {"href": url_for(endpoint, page=number + 1), "text": _("Next")}
    return params


@bp.get("/changes")
@login_required
def changes() -> str:
    page = list_reports(get_session(), _citizen().id, page=_page_arg(), size=REPORTS_PER_PAGE)
    return render_template("track/changes.html", page=page, full_width=True, change_types=CHANGE_TYPES,
                           pagination=pagination("track.changes", page.number, page.pages))


@bp.get("/changes/<reference>")
@login_required
def report(reference: str) -> Response:
    citizen, found = own_report(reference)
    session = get_session()
    notifications = report_notifications(session, citizen.id, found.id)
    attempts = last_attempts(session, [n.id for n in notifications])
    settled = all(n.state in display.FINAL_STATES for n in notifications) and found.state != ReportState.PENDING_CONFIRMATION
    auto = request.args.get("auto") == "1" and not settled
    cancellations = {n.original_id: n for n in notifications if n.kind == NotificationKind.CANCELLATION}
    corrections = corrections_by_original(notifications)
    rows = []
    now = utcnow()
    for n in shown_copies(notifications):
        row = _notification_view(n, attempts.get(n.id), now=now)
        row["cancellation"] = cancellation_view(found, n, cancellations.get(n.id))
        row["corrections"] = [correction_view(c) for c in corrections.get(n.id, [])]
        row["corrected_before_sending"] = corrected_before_sending(n)
        rows.append(row)
    body = render_template(
        "track/report.html", report=found, change_type=get_change_type(found.change_type),
        rows=rows, settled=settled, auto=auto, can_cancel=can_cancel(found.state),
        can_correct=can_correct(found.state),
        checked_at=utcnow(), refresh_seconds=REFRESH_SECONDS,
    )
    response = Response(body, mimetype="text/html")
    if auto:
        response.headers["Refresh"] = str(REFRESH_SECONDS)
    return response


def _notification_view(n: Notification, attempt: Any, *, now: datetime) -> dict[str, Any]:
    times: list[tuple[str, Any]] = [(_("Queued"), n.created_at)]
    # Waiting for the date the citizen chose to have it sent on (``domain.planning``).
    planned_for = n.planned_for if n.state == NotificationState.PENDING and n.planned_for and n.planned_for > now else None
    if n.delivered_at:
        times.append((_("Sent"), n.delivered_at))
    if n.acknowledged_at:
        times.append((_("Received by the organisation"), n.acknowledged_at))
    if n.state == NotificationState.RETRYING and n.next_attempt_at:
        times.append((_("Next try"), n.next_attempt_at))
    if n.dead_at:
        times.append((_("Stopped trying"), n.dead_at))
    if n.cancelled_at:
        times.append((_("Cancelled"), n.cancelled_at))
    if attempt is not None and n.state in (NotificationState.RETRYING, NotificationState.DEAD):
        times.append((_("Last tried"), attempt.finished_at))
    return {
        "notification": n,
        "tag": display.planned_tag() if planned_for else display.state_tag(n.state),
        "planned_for": planned_for,
        "name": marked_name(n.department),
        "times": times,
        "fields": display.told_fields(n),
        "receipt": str(n.consent_receipt_id),
        "details_label": display.details_label(n),
        "attempts": n.attempt_count,
        "cancelled_by_withdrawal": n.state == NotificationState.CANCELLED
        and not _not_sent_because_cancelled(n.report, n),
    }


def cancellation_view(report: ChangeReport, original: Notification,
                      event: Notification | None) -> dict[str, Any] | None:
    """What cancelling the report did for one organisation, in words and times, or None (not cancelled):
    cancelled before it was sent, or told it is cancelled (or being told, or could not be)."""
    if report.state != ReportState.CANCELLED:
        return None
    if event is None:
        if original.state == NotificationState.CANCELLED and _not_sent_because_cancelled(report, original):
            return {"words": _("Cancelled before sending"), "times": [(_("Cancelled"), original.cancelled_at)]}
        return {"words": _("Nothing to tell them: they were never sent it"), "times": []}
    times: list[tuple[str, Any]] = [(_("Cancellation queued"), event.created_at)]
    if event.state in (NotificationState.DELIVERED, NotificationState.ACKNOWLEDGED):
        times.append((_("Told it is cancelled"), event.delivered_at))
        if event.acknowledged_at:
            times.append((_("They confirmed they know"), event.acknowledged_at))
        return {"words": _("Told it is cancelled"), "times": times}
    if event.state == NotificationState.DEAD:
        times.append((_("Stopped trying"), event.dead_at))
        return {"words": _("We could not tell them it is cancelled"), "times": times}
    if event.state == NotificationState.CANCELLED:
        return {"words": _("Not told it is cancelled, because you withdrew your consent"), "times": times}
    if event.state == NotificationState.RETRYING and event.next_attempt_at:
        times.append((_("Next try"), event.next_attempt_at))
    return {"words": _("Will be told it is cancelled once they have the report"), "times": times}


def _not_sent_because_cancelled(report: ChangeReport, n: Notification) -> bool:
    """Whether a cancelled notification was cancelled with its report (not by consent withdrawn earlier)."""
    return report.cancelled_at is not None and n.cancelled_at is not None and n.cancelled_at >= report.cancelled_at


@bp.get("/who-has-been-told")
@login_required
def disclosures() -> str:
    page = list_disclosures(get_session(), _citizen().id, page=_page_arg(), size=DISCLOSURES_PER_PAGE)
    rows = [{"notification": n, "change_label": get_change_type(n.change_type).label,
             "fields": display.told_fields(n)}
            for n in page.items]
    return render_template("track/disclosures.html", page=page, rows=rows, full_width=True,
                           pagination=pagination("track.disclosures", page.number, page.pages))


def _disclosure(n: Notification) -> dict[str, Any]:
    return {
        "notification_id": str(n.id),
        "reference": n.report.reference,
        "organisation": {"id": n.department_id, "name": organisation_name(n.department)},
        "change_type": n.change_type,
        "state": n.state,
        "sent_at": n.delivered_at.isoformat() if n.delivered_at else None,
        "received_at": n.acknowledged_at.isoformat() if n.acknowledged_at else None,
        "consent_receipt_id": str(n.consent_receipt_id),
        "details": dict(n.payload),
    }


def _download(body: str, mimetype: str, extension: str) -> Response:
    name = f"who-has-been-told-{utcnow():%Y-%m-%d}.{extension}"
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@bp.get("/who-has-been-told.json")
@login_required
def disclosures_json() -> Response:
    items = [_disclosure(n) for n in all_disclosures(get_session(), _citizen().id)]
    body = json.dumps({"generated_at": utcnow().isoformat(), "disclosures": items}, ensure_ascii=False, indent=2)
    return _download(body, "application/json", "json")


@bp.get("/who-has-been-told.csv")
@login_required
def disclosures_csv() -> Response:
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out)
    writer.writerow([str(heading) for heading in CSV_COLUMNS])
    writer.writerows(_csv_rows(all_disclosures(get_session(), _citizen().id)))
    return _download(out.getvalue(), "text/csv", "csv")


def _csv_rows(notifications: Iterable[Notification]) -> Iterable[list[str]]:
    """One row per detail disclosed, so a spreadsheet can filter by organisation or by detail.

    Changes and details are named in words, in the reader's language, as the pages name them.
    """
    for n in notifications:
        change_type = get_change_type(n.change_type)
        for name, value in n.payload.items():
            label = display.detail_label(change_type, name)
            yield [_cell(v) for v in (
                n.delivered_at.isoformat() if n.delivered_at else "", organisation_name(n.department), n.report.reference,
                _(change_type.label), label, value, n.acknowledged_at.isoformat() if n.acknowledged_at else "",
                str(n.consent_receipt_id),
            )]


# What makes a spreadsheet read a cell as a formula: OWASP's list, a line feed, and, to be safe,
# the full-width forms of the signs, which some spreadsheets and input methods turn into the plain ones.
FORMULA_STARTS = frozenset("=+-@\t\r\n\uff1d\uff0b\uff0d\uff20")


def _cell(value: Any) -> str:
    """A cell a spreadsheet shows as text, never runs as a formula (CSV injection): a leading quote."""
    text = "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
    return "'" + text if text[:1] in FORMULA_STARTS else text
