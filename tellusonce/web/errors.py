"""Error pages in the GOV.UK style, and JSON errors for the machine-facing paths.

Every error a stranger can cause gets a page that says what happened and what to
do next: 400 (and an expired form, the CSRF failure), 403 (a form sent from
another site), 404, 405, 413, 415 (a post that is not a form), 429 and 500. Under ``/api/`` and ``/schemas/`` the same errors are JSON.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, g, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from tellusonce.web.auth import safe_next

log = logging.getLogger(__name__)
MACHINE_PREFIXES = ("/api/", "/schemas/", "/notify/")  # JSON in, JSON out; no forms, no pages
PAGES = {400: "errors/400.html", 403: "errors/403.html", 404: "errors/404.html", 405: "errors/405.html",
         413: "errors/413.html", 415: "errors/415.html", 429: "errors/429.html", 500: "errors/500.html"}


def init_app(app: Flask) -> None:
    app.register_error_handler(CSRFError, _csrf_failed)
    # Unexpected exceptions reach _http_error as a 500 (Flask wraps them in
    # InternalServerError); in test mode they propagate so that tests fail loudly.
    app.register_error_handler(HTTPException, _http_error)


def _wants_json() -> bool:
    return request.path.startswith(MACHINE_PREFIXES) or request.path.endswith(".json")


def _json(status: int, message: str) -> Response:
    response = jsonify(status=status, error=message)
    response.status_code = status
    return response


def _csrf_failed(error: CSRFError) -> tuple[str, int] | Response:
    log.info("form refused: %s", error.description, extra={"event": "csrf_failed"})
    if _wants_json():
        return _json(400, "The request did not carry a valid CSRF token.")
    back = safe_next(request.path, "/")
    return render_template("errors/session_expired.html", back=back), 400


def _http_error(error: HTTPException) -> tuple[str, int] | Response:
    status = error.code or 500
    if status < 400:
        return error  # type: ignore[return-value]  # Flask serves an exception below 400 (a redirect) as its response
    if status >= 500:
        _forget_request_state(error)
    if _wants_json():
        response = _json(status, error.description or error.name)
        if isinstance(error, MethodNotAllowed) and error.valid_methods:
            response.headers["Allow"] = ", ".join(error.valid_methods)
        return response
    template = PAGES.get(status) or PAGES[500 if status >= 500 else 400]
    carried = error.get_response()
    body = render_template(template, status=status)
    # Keep headers such as Allow (405) and Retry-After (429) that the exception carries.
    result = Response(body, status=status, mimetype="text/html")
    for name in ("Allow", "Retry-After"):
        if name in carried.headers:
            result.headers[name] = carried.headers[name]
    return result


def _forget_request_state(error: HTTPException) -> None:
    original = getattr(error, "original_exception", None)
    if original is not None:
        log.error("unexpected error on %s %s", request.method, request.path,
                  exc_info=original, extra={"event": "unexpected_error"})
    session = g.pop("db_session", None)
    if session is not None:
        session.rollback()
        session.close()
    # Show the page as to someone signed out: the database may be what failed.
    g.current_citizen = None
