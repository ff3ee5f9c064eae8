"""``/dev/mail``: the email the service has written, readable in the browser (demo and test only).

In demo and test mode outbound email is captured instead of sent; this is where
a person trying the service reads it, for example to follow the link that
confirms their address. An email is shown as the sender captured it, or, before
the sender has reached it, rendered now the same way (``rendered_bodies``). The
blueprint is only registered outside production, so in production these
addresses do not exist (404).
"""

from __future__ import annotations

import re
import uuid

from flask import Blueprint, Response, abort, current_app, render_template, request
from flask_babel import gettext as _
from markupsafe import Markup, escape
from sqlalchemy import func, select

from tellusonce.i18n import N_
from tellusonce.mailout.render import message_headers, rendered_bodies
from tellusonce.models import OutgoingEmail, OutgoingState
from tellusonce.web.database import get_session

bp = Blueprint("devmail", __name__, url_prefix="/dev/mail")
LINK = re.compile(r"https?://[^\s<>\"']+")
PAGE_SIZE = 50
# Shown first, as a mail program shows them; the rest of the headers follow in the message's order.
FIRST_HEADERS = ("from", "to", "reply-to", "subject", "date")


def linkify(text: str) -> Markup:
    """Plain text as HTML with every web address a link; everything else escaped."""
    parts: list[str] = []
    position = 0
    for match in LINK.finditer(text):
        url = escape(match.group(0))
        parts += [str(escape(text[position:match.start()])), f'<a class="govuk-link" href="{url}">{url}</a>']
        position = match.end()
    parts.append(str(escape(text[position:])))
    return Markup("".join(parts))


# Each email's state in the mailbox's words (the page's language).
STATES: dict[str, str] = {OutgoingState.QUEUED: N_("Waiting to send"), OutgoingState.SENT: N_("Sent"),
          OutgoingState.CAPTURED: N_("Kept here"), OutgoingState.FAILED: N_("Could not be sent")}


def email_state(state: str) -> str:
    return _(STATES[state]) if state in STATES else state


@bp.get("/")
def inbox() -> str:
    to = (request.args.get("to") or "").strip()
    query = select(OutgoingEmail).order_by(OutgoingEmail.created_at.desc(), OutgoingEmail.id.desc()).limit(PAGE_SIZE)
    if to:
        query = query.where(func.lower(OutgoingEmail.to_address) == to.lower())
    emails = get_session().scalars(query).all()
    return render_template("devmail/inbox.html", emails=emails, to=to, email_state=email_state)


def _email(email_id: str) -> OutgoingEmail:
    try:
        key = uuid.UUID(email_id)
    except ValueError:
        abort(404)
    email = get_session().get(OutgoingEmail, key)
    if email is None:
        abort(404)
    return email


def headers_shown(email: OutgoingEmail) -> list[tuple[str, str]]:
    """Every header the message for ``email`` carries, those a mail program shows at the top first."""
    settings = current_app.config["SETTINGS"]
    headers = message_headers(email, sender_address=settings.sender_address, mail_domain=settings.mail_domain)
    first = [h for name in FIRST_HEADERS for h in headers if h[0].lower() == name]
    return first + [h for h in headers if h[0].lower() not in FIRST_HEADERS]


@bp.get("/<email_id>")
def message(email_id: str) -> str:
    email = _email(email_id)
    text, html = rendered_bodies(email)
    return render_template("devmail/message.html", email=email, headers=headers_shown(email), body=linkify(text),
                           has_html=html is not None)


@bp.get("/<email_id>/html")
def message_html(email_id: str) -> Response:
    """The HTML version as the recipient's mail program would show it, sandboxed: no scripts run."""
    _, html = rendered_bodies(_email(email_id))
    if html is None:
        abort(404)
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = (
        "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"
    )
    return response
