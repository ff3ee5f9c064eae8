"""The page's language: Welsh or English, chosen by a link on every page.

``/language/<code>?next=<path>`` remembers the choice in a cookie and goes back to the
same page (``next`` must be a path on this site: anything else goes to the start page).
Every page is shown in ``page_language()``: the explicit choice, else the signed-in account's
recorded language (Welsh Language Standard 2), else the browser's Accept-Language, else English.
Email to a citizen with an account is written in the account's language (``Citizen.language``),
whatever the page.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Flask, abort, current_app, has_request_context, redirect, request, url_for
from flask_babel import get_locale
from werkzeug.wrappers import Response

from tellusonce.i18n import LANGUAGES
from tellusonce.web.auth import current_citizen, safe_next

DEFAULT = "en"
COOKIE = "tellusonce_language"
COOKIE_LIFETIME = timedelta(days=365)
# Each language named in itself, for the link to it.
NAMES = {"en": "English", "cy": "Cymraeg"}

bp = Blueprint("language", __name__)


@bp.get("/language/<code>")
def choose(code: str) -> Response:
    if code not in LANGUAGES:
        abort(404)
    response = redirect(safe_next(request.args.get("next")) or "/")
    response.set_cookie(
        COOKIE, code, max_age=COOKIE_LIFETIME, path="/",
        secure=current_app.config["SESSION_COOKIE_SECURE"], httponly=True, samesite="Lax",
    )
    return response


def chosen_language() -> str | None:
    """The language this visitor chose with the link on a page, if they did."""
    choice = request.cookies.get(COOKIE)
    return choice if choice in LANGUAGES else None


def select_locale() -> str:
    """Flask-Babel's locale selector; English outside a request (the CLI's messages). The explicit
    choice, then the signed-in account's recorded language, then Accept-Language, then English."""
    if not has_request_context():
        return DEFAULT
    return chosen_language() or account_language() or request.accept_languages.best_match(LANGUAGES) or DEFAULT


def account_language() -> str | None:
    """The signed-in citizen's recorded language, if someone is signed in."""
    citizen = current_citizen()
    return citizen.language if citizen is not None and citizen.language in LANGUAGES else None


def page_language() -> str:
    """The language of this request's page, for the emails it queues."""
    return str(get_locale() or DEFAULT)


def language_switch() -> dict[str, str]:
    """The link to this same page in the other language."""
    other = "en" if page_language() == "cy" else "cy"
    here = request.full_path.rstrip("?") if request.query_string else request.path
    return {"code": other, "name": NAMES[other], "href": url_for("language.choose", code=other, next=here)}


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)

    @app.context_processor
    def _language() -> dict[str, object]:
        return {"language_switch": language_switch}
