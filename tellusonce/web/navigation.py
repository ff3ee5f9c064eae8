"""The service navigation under the header, which depends on whether someone is signed in.

An item whose page is not part of this app (its blueprint is not registered) is
left out, so the shell works before every journey exists. Journeys add their
pages here by endpoint name.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app, request, url_for
from flask_babel import lazy_gettext

from tellusonce.web.auth import current_citizen
from tellusonce.web.language import page_language


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    text: object  # a lazy string
    # Other endpoints under which this item shows as the current section.
    section: tuple[str, ...] = ()


SIGNED_IN = (
    NavItem("report.start", lazy_gettext("Report a change"), ("report.",)),
    NavItem("track.changes", lazy_gettext("Your changes"), ("track.changes", "track.report")),
    NavItem("consent.consents", lazy_gettext("Your consents"), ("consent.",)),
    NavItem("track.disclosures", lazy_gettext("Who has been told"), ("track.disclosures",)),
    NavItem("account.profile", lazy_gettext("Your details"), ("account.profile",)),
)
SIGNED_OUT = (
    NavItem("account.sign_in", lazy_gettext("Sign in"), ("account.sign_in",)),
    NavItem("account.register", lazy_gettext("Create an account"), ("account.register",)),
)


def _shown() -> list[tuple[NavItem, bool, bool]]:
    """The items shown to this visitor on this page: each, whether it is this page, and whether
    this page is in its section."""
    items = SIGNED_IN if current_citizen() is not None else SIGNED_OUT
    endpoint = request.endpoint or ""
    return [(item, endpoint == item.endpoint,
             any(endpoint.startswith(s) if s.endswith(".") else endpoint == s for s in item.section))
            for item in items if item.endpoint in current_app.view_functions]


def navigation_items() -> list[dict[str, object]]:
    """Items for ``govukServiceNavigation``; sign-out is a form, added by the template."""
    result: list[dict[str, object]] = []
    for item, here, within in _shown():
        entry: dict[str, object] = {"href": url_for(item.endpoint), "text": str(item.text)}
        if here:
            entry["current"] = True
        elif within:
            entry["active"] = True
        result.append(entry)
    return result


def navigation_state() -> tuple[tuple[str, bool, bool], ...]:
    """All that ``navigation_items`` depends on besides the language: the navigation is kept once
    for each (``fragment_around`` in base.html)."""
    return tuple((item.endpoint, here, within) for item, here, within in _shown())


def init_app(app: Flask) -> None:
    @app.context_processor
    def _navigation() -> dict[str, object]:
        return {
            "navigation_items": navigation_items,
            "navigation_state": navigation_state,
            "current_citizen": current_citizen,
            "view_functions": lambda: current_app.view_functions,
            "current_locale": page_language,
        }
