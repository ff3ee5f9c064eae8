"""The application factory: settings, extensions, blueprints, security headers."""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from typing import Any

from flask import Flask, Response, g, request
from govuk_frontend_wtf.main import WTFormsHelpers
from jinja2 import ChoiceLoader, FileSystemLoader, PackageLoader, PrefixLoader
from werkzeug.routing import Map, UnicodeConverter

from tellusonce import logs
from tellusonce.clock import ShiftedClock, set_clock
from tellusonce.config_files import load_schedule
from tellusonce.domain.retention import RetentionError
from tellusonce.extensions import babel, csrf, limiter
from tellusonce.resources import STATIC, TEMPLATES, TRANSLATIONS, check_page_assets
from tellusonce.settings import Settings, SettingsError
from tellusonce.web import database, department_names, display, fragments, language, posts, proxies

log = logging.getLogger(__name__)


def build_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    if settings.clock_offset:
        set_clock(ShiftedClock(timedelta(seconds=settings.clock_offset)))
    logs.configure(settings)
    check_page_assets()
    try:  # a schedule with a mistake stops start-up (and every command) naming the line
        schedule = load_schedule(settings.retention)
    except RetentionError as e:
        raise SettingsError(f"TELLUSONCE_RETENTION: {e}") from e
    app = Flask(
        "tellusonce",
        instance_path=str(settings.instance_path),
        static_folder=str(STATIC),
        static_url_path="/assets",
        template_folder=str(TEMPLATES),
    )
    app.config.update(
        SETTINGS=settings,
        RETENTION=schedule,
        SECRET_KEY=settings.secret_key,
        DATABASE_URL=settings.database_url,
        TESTING=settings.is_test,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.is_production,
        SESSION_COOKIE_NAME="tellusonce_session",
        PREFERRED_URL_SCHEME="https" if settings.is_production else "http",
        MAX_CONTENT_LENGTH=1024 * 1024,
        WTF_CSRF_TIME_LIMIT=None,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
        RATELIMIT_STORAGE_URI=settings.ratelimit_storage_url,
        RATELIMIT_KEY_PREFIX=settings.ratelimit_key_prefix,
        # Redis out of reach: each process counts on its own until it answers again (Flask-Limiter
        # logs the fall-back and checks the store again), rather than refusing every account form.
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=not settings.ratelimit_storage_url.startswith("memory://"),
        RATELIMIT_HEADERS_ENABLED=True,
        BABEL_DEFAULT_LOCALE="en",
        BABEL_TRANSLATION_DIRECTORIES=str(TRANSLATIONS),
    )
    app.jinja_loader = ChoiceLoader(
        [
            FileSystemLoader(str(TEMPLATES)),
            PrefixLoader(
                {
                    "govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja"),
                    # The originals of the components templates/govuk_frontend_jinja/ wraps.
                    "govuk_frontend_jinja_upstream": PackageLoader("govuk_frontend_jinja"),
                    "govuk_frontend_wtf": PackageLoader("govuk_frontend_wtf"),
                }
            ),
        ]
    )
    app.jinja_env.add_extension("jinja2.ext.do")
    app.url_map.converters["default"] = app.url_map.converters["string"] = AddressPart
    WTFormsHelpers(app)
    posts.init_app(app)  # before the CSRF check: what a page takes is decided first
    csrf.init_app(app)
    babel.init_app(app, locale_selector=language.select_locale)
    limiter.init_app(app)
    database.init_app(app)

    from tellusonce.web import account, account_email, account_password, errors, navigation, public, sign_ins

    app.register_blueprint(public.bp)
    app.register_blueprint(account.bp)
    from tellusonce.web import report_emails

    app.register_blueprint(report_emails.bp)
    app.register_blueprint(account_email.bp)
    app.register_blueprint(account_password.bp)
    from tellusonce.web import account_close

    app.register_blueprint(account_close.bp)
    app.register_blueprint(sign_ins.bp)
    from tellusonce.web import email_confirm

    app.register_blueprint(email_confirm.bp)
    from tellusonce.web import consents, report, report_cancel, track

    app.register_blueprint(report.bp)
    app.register_blueprint(track.bp)
    app.register_blueprint(report_cancel.bp)
    from tellusonce.web import report_correct

    app.register_blueprint(report_correct.bp)
    app.register_blueprint(consents.bp)
    from tellusonce.web import your_data

    app.register_blueprint(your_data.bp)
    if not settings.is_production:
        from tellusonce.web import devmail

        app.register_blueprint(devmail.bp)
    from tellusonce.web import api, health

    app.register_blueprint(api.bp)
    app.register_blueprint(health.bp)
    from tellusonce.web import notify_receipts

    app.register_blueprint(notify_receipts.bp)
    errors.init_app(app)
    navigation.init_app(app)
    language.init_app(app)
    department_names.init_app(app)
    display.init_app(app)
    fragments.init_app(app)

    @app.before_request
    def _nonce() -> None:
        csp_nonce()

    @app.context_processor
    def _template_globals() -> dict[str, object]:
        return {"settings": settings, "cspNonce": csp_nonce()}

    app.after_request(_security_headers)
    # The client a rate limit counts is the one the trusted proxies saw (tellusonce/web/proxies.py).
    app.wsgi_app = proxies.wrap(  # type: ignore[method-assign]  # Flask's documented way to add WSGI middleware
        app.wsgi_app, forwarded_allow_ips=settings.forwarded_allow_ips, proxy_hops=settings.proxy_hops)
    return app


class AddressPart(UnicodeConverter):
    """A part of an address between slashes, without control characters: no id, slug, token or
    reference has one, and PostgreSQL cannot compare a string holding NUL (a 404, not a 500)."""

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        super().__init__(map, *args, **kwargs)
        self.regex = self.regex.replace("[^/]", r"[^/\x00-\x1f\x7f-\x9f]", 1)


def csp_nonce() -> str:
    """This request's CSP nonce, made on first use: an error raised before the app's own
    before_request hooks (a CSRF failure, a rate limit) still renders with it."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def _security_headers(response: Response) -> Response:
    settings: Settings = _settings()
    nonce = csp_nonce()
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; "
        f"script-src 'self' 'nonce-{nonce}'; "
        "style-src 'self'; img-src 'self' data:; font-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
    response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    if settings.is_production:
        response.headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
    if request.endpoint and not request.endpoint.endswith("static"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def _settings() -> Settings:
    from flask import current_app

    return current_app.config["SETTINGS"]
