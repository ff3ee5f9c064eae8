"""Your sign-ins: ``/account/sign-ins`` lists those of the last 30 days, and ``note_sign_in``
records each one (and each wrong password for an account) as it happens.

A row says when, how (password or emailed link), whether it worked, and the families of the
browser and operating system ("Firefox on Windows") that ua-parser reads from the User-Agent.
The client's address is not kept (``tellusonce.models.sign_in``).
"""

from __future__ import annotations

from datetime import timedelta

import ua_parser
from flask import Blueprint, current_app, render_template, request
from flask_babel import gettext as _

from tellusonce.clock import utcnow
from tellusonce.data.sign_ins import MOST_SHOWN, recent_sign_ins, record_sign_in
from tellusonce.domain.retention import Kind
from tellusonce.models import Citizen, SignInEvent, SignInMethod
from tellusonce.web.auth import current_citizen, login_required
from tellusonce.web.database import get_session

bp = Blueprint("sign_ins", __name__, url_prefix="/account")
SHOWN_DAYS = 30
UNKNOWN_FAMILY = "Other"  # what ua-parser calls a browser or system it does not know


def browser_families(user_agent: str) -> tuple[str | None, str | None]:
    """The browser's and the operating system's family names, or None where not known."""
    parsed = ua_parser.parse(user_agent[:1000])
    browser = parsed.user_agent.family if parsed.user_agent else None
    system = parsed.os.family if parsed.os else None
    return (browser if browser != UNKNOWN_FAMILY else None), (system if system != UNKNOWN_FAMILY else None)


def note_sign_in(citizen: Citizen, method: SignInMethod, *, succeeded: bool = True) -> None:
    """Record a sign-in to ``citizen``'s account by this request, in its transaction."""
    browser, system = browser_families(request.headers.get("User-Agent", ""))
    record_sign_in(get_session(), citizen.id, method=method, succeeded=succeeded, at=utcnow(),
                   browser=browser, system=system)


def how_words(event: SignInEvent) -> str:
    return _("Email link") if event.method == SignInMethod.EMAIL_LINK else _("Password")


def browser_words(event: SignInEvent) -> str:
    if event.browser and event.system:
        return _("%(browser)s on %(system)s", browser=event.browser, system=event.system)
    return event.browser or event.system or _("Not known")


@bp.get("/sign-ins")
@login_required
def sign_ins() -> str:
    citizen = current_citizen()
    assert citizen is not None
    events = recent_sign_ins(get_session(), citizen.id, since=utcnow() - timedelta(days=SHOWN_DAYS))
    return render_template("account/sign_ins.html", events=events, days=SHOWN_DAYS, kept_days=current_app.config["RETENTION"].rule(Kind.SIGN_INS).keep.days,
                           most=MOST_SHOWN, how_words=how_words, browser_words=browser_words)
