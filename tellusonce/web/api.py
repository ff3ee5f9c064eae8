"""The department API: a department reads its own notifications and acknowledges them.

Bearer API keys (``tellusonce departments key ID``) identify the department;
every query is limited to that department, so another department's notification
is simply not found (404). Bearer authentication means no cookies, so the
blueprint is exempt from CSRF protection.

For a feed department the API is the channel: a notification waiting for it
becomes ``delivered`` the first time the department fetches it. Any department
may acknowledge; the citizen then sees "received by …".
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request, url_for
from sqlalchemy.orm import Session

from tellusonce.application.report_notices import note_outcomes
from tellusonce.clock import utcnow
from tellusonce.data.apikeys import Authentication, KeyProblem, authenticate
from tellusonce.data.dispatch import mark_fetched, report_references
from tellusonce.data.outbox import acknowledge, get_for_department, notifications_for_department
from tellusonce.domain.events import build_event
from tellusonce.extensions import csrf
from tellusonce.models import ChannelKind, Department, Notification, NotificationState
from tellusonce.web.api_spec import openapi_document
from tellusonce.web.database import get_session

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)

DEFAULT_LIMIT = 100
MAX_LIMIT = 500


def _error(status: int, message: str, **headers: str) -> Response:
    response = jsonify(status=status, error=message)
    response.status_code = status
    response.headers.update(headers)
    return response


@bp.before_request
def _authenticate() -> Response | None:
    if request.endpoint == "api.openapi":
        return None
    if "db_session" not in g:
        # Every API call may write (the key's last use; a feed's first fetch): on SQLite the
        # session takes the write lock at BEGIN instead of failing to upgrade half-way.
        g.db_session = current_app.extensions["tellusonce.sessions"][1]()
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    found = authenticate(get_session(), token.strip() if scheme.lower() == "bearer" else "", now=utcnow())
    if found.key is None:
        return _unauthorised(found)
    g.department_id = found.key.department_id
    return None


def _unauthorised(found: Authentication) -> Response:
    """401 saying which is wrong: no key, a key we do not know, or one revoked (RFC 6750's
    error="invalid_token" for the last two). Nothing about any department is said."""
    challenge = 'Bearer realm="tellusonce"'
    if found.problem == KeyProblem.REVOKED and found.revoked_at is not None:
        message = (f"This API key was revoked on {found.revoked_at:%Y-%m-%d}. "
                   "Use another of your keys, or ask for a new one.")
    elif found.problem == KeyProblem.INACTIVE:
        message = "This API key's organisation no longer receives notifications from this service."
    elif found.problem == KeyProblem.UNRECOGNISED:
        message = "This API key is not recognised. Check that you sent the whole key (tuo_…), or ask for a new one."
    else:
        return _error(401, "Send a department API key: Authorization: Bearer <key>.",
                      **{"WWW-Authenticate": challenge})
    # error_description allows printable ASCII but the quote and the backslash (RFC 6750, 3).
    description = "".join(c for c in message.replace("…", "...") if " " <= c <= "~" and c not in '"\\')
    return _error(401, message, **{"WWW-Authenticate": f'{challenge}, error="invalid_token", '
                                                       f'error_description="{description}"'})


def _department() -> Department:
    return get_session().get_one(Department, g.department_id)


def _represent(session: Session, notifications: list[Notification]) -> list[dict[str, Any]]:
    references = report_references(session, (n.report_id for n in notifications))
    source = current_app.config["SETTINGS"].base_url
    items = []
    for n in notifications:
        reference = references.get(n.report_id, "")
        event = build_event(notification_id=n.id, change_type=n.change_type, report_reference=reference,
                            payload=n.payload, consent_receipt_id=n.consent_receipt_id, created_at=n.created_at,
                            source=source, kind=n.kind)
        items.append({
            "id": str(n.id),
            "kind": n.kind,
            "original_id": str(n.original_id) if n.original_id else None,
            "change_type": n.change_type,
            "report_reference": reference,
            "state": n.state,
            "created_at": _iso(n.created_at),
            "delivered_at": _iso(n.delivered_at),
            "acknowledged_at": _iso(n.acknowledged_at),
            "consent_receipt_id": str(n.consent_receipt_id),
            "ack_url": url_for("api.ack", notification_id=n.id, _external=False),
            "event": json.loads(event),
        })
    return items


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _fetched(notifications: list[Notification]) -> list[Notification]:
    """For a feed department, what was waiting is delivered by this fetch."""
    waiting = [n.id for n in notifications if n.state in (NotificationState.PENDING, NotificationState.RETRYING)]
    if not waiting or _department().channel != ChannelKind.FEED:
        return notifications
    session = get_session()
    now = utcnow()
    mark_fetched(session, g.department_id, waiting, now=now)
    for n in notifications:
        session.refresh(n)
    note_outcomes(session, [(n.id, n.state, ChannelKind.FEED) for n in notifications if n.id in waiting], now=now)
    return notifications


def _parse_id(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


@bp.get("/notifications")
def notifications() -> Response:
    session = get_session()
    raw_limit = request.args.get("limit", str(DEFAULT_LIMIT))
    if not (raw_limit.isascii() and raw_limit.isdigit()) or not 1 <= int(raw_limit) <= MAX_LIMIT:
        return _error(400, f"limit must be a whole number from 1 to {MAX_LIMIT}.")
    limit = int(raw_limit)
    after = None
    raw_after = request.args.get("after")
    if raw_after is not None:
        after = _parse_id(raw_after)
        if after is None:
            return _error(400, "after must be a notification id (the next_cursor you were given).")
        if get_for_department(session, g.department_id, after) is None:
            return _error(404, "None of your notifications has the id given as after.")
    page = notifications_for_department(session, g.department_id, after=after, limit=limit + 1)
    has_more = len(page) > limit
    page = _fetched(page[:limit])
    cursor = str(page[-1].id) if page else (str(after) if after else None)
    return jsonify(notifications=_represent(session, page), next_cursor=cursor, has_more=has_more)


def _own_notification(session: Session, notification_id: str) -> Notification | None:
    """The caller's notification with this id; another department's, a cancelled one or a bad id: None."""
    wanted = _parse_id(notification_id)
    found = get_for_department(session, g.department_id, wanted) if wanted else None
    return None if found is None or found.state == NotificationState.CANCELLED else found


@bp.get("/notifications/<notification_id>")
def notification(notification_id: str) -> Response:
    session = get_session()
    found = _own_notification(session, notification_id)
    if found is None:
        return _error(404, "No notification of yours has this id.")
    [item] = _represent(session, _fetched([found]))
    return jsonify(item)


@bp.post("/notifications/<notification_id>/ack")
def ack(notification_id: str) -> Response:
    session = get_session()
    found = _own_notification(session, notification_id)
    already = found is not None and found.state == NotificationState.ACKNOWLEDGED
    now = utcnow()
    acknowledged = found and acknowledge(session, department_id=g.department_id, notification_id=found.id, now=now)
    if not acknowledged:
        return _error(404, "No notification of yours has this id.")
    if not already:  # "received": the citizen may be due an email (in this same transaction)
        note_outcomes(session, [(acknowledged.id, acknowledged.state, _department().channel)], now=now)
    [item] = _represent(session, [acknowledged])
    return jsonify(item)


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(openapi_document(current_app.config["SETTINGS"].base_url))

