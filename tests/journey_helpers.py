"""Helpers for tests of the report journey, tracking and consent pages.

    from journey_helpers import signed_in, report_a_move, submitted_report

``signed_in`` commits a verified citizen with a full profile and puts them in
the test client's session exactly as signing in does (``tellusonce.web.auth``).
Pages are driven as a browser would: each POST carries the CSRF token read from
the form on the page (``account_helpers.post_form``).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Any

from account_helpers import make_citizen, post_form
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from tellusonce.application.intake import ChangeRequest, submit_change
from tellusonce.clock import today, uk_date, utcnow
from tellusonce.db import transaction
from tellusonce.models import ChangeReport, Citizen, ConsentGrant, Notification, NotificationState

PROFILE: dict[str, Any] = {
    "ni_number": "AB123456C",
    "address_line_1": "12 Hill Street",
    "town": "Leeds",
    "postcode": "LS1 1AA",
    "phone": "+447911123456",
}
THREE = ("dvla", "hmrc", "leeds-council-tax")


def signed_in(app: Flask, client: FlaskClient, email: str | None = None, **profile: Any) -> Citizen:
    values = {**PROFILE, **profile}
    citizen = make_citizen(app, email or f"citizen-{uuid.uuid4().hex[:10]}@example.org", **values)
    with client.session_transaction() as session:
        session["citizen_id"] = str(citizen.id)
        session["session_version"] = citizen.session_version
    return citizen


def date_parts(day: date) -> list[str]:
    return [str(day.day), str(day.month), str(day.year)]


def move_answers(**overrides: Any) -> dict[str, dict[str, Any]]:
    """Answers to each page of a move, by page; override with page={...}."""
    pages: dict[str, dict[str, Any]] = {
        "your-details": {},  # as pre-filled from the profile
        "new-address": {"address_line_1": "4 Canal Wharf", "town": "Leeds", "postcode": "LS11 5PS"},
        "move-date": {"move_date": date_parts(today())},
        "previous-address": {},
        "household": {"others_moving": "no"},
        "protect-address": {"protected_address": "no"},
    }
    for slug, answers in overrides.items():
        pages[slug.replace("_", "-")] = answers
    return pages


def death_pages(**overrides: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Answers to each page of reporting a death (by the executor, today), by page; override with page={...}."""
    pages: dict[str, dict[str, Any]] = {
        "person": {"deceased_given_names": "Grace", "deceased_family_name": "Okafor",
                   "deceased_date_of_birth": ["3", "2", "1941"]},
        "date-of-death": {"date_of_death": date_parts(today())},
        "their-address": {"deceased_address_line_1": "7 Elm Road", "deceased_town": "Leeds", "deceased_postcode": "LS6 2AB"},
        "about-you": {},
        "relationship": {"reporter_relationship": "executor"},
    }
    for slug, answers in overrides.items():
        pages[slug.replace("_", "-")] = answers
    return pages


def _form_state(client: FlaskClient, path: str) -> tuple[str, dict[str, Any]]:
    from bs4 import BeautifulSoup

    page = BeautifulSoup(client.get(path).get_data(as_text=True), "html.parser")
    token = ""
    values: dict[str, Any] = {}
    for field in page.select("main input"):
        name, kind = field.get("name"), field.get("type", "text")
        if name == "csrf_token":
            token = token or field.get("value", "")
            continue
        if not name or kind in ("submit", "button"):
            continue
        if kind in ("radio", "checkbox"):
            if field.has_attr("checked"):
                values.setdefault(name, []).append(field.get("value"))
            continue
        values.setdefault(name, []).append(field.get("value", ""))
    return token, {k: v if len(v) > 1 else v[0] for k, v in values.items()}


def prefilled(client: FlaskClient, path: str) -> dict[str, Any]:
    """The values a page's form already holds, as a browser would send them back."""
    return _form_state(client, path)[1]


def start_change(client: FlaskClient, change_type: str) -> Any:
    response = post_form(client, "/report/change", {"change_type": change_type})
    assert response.status_code == 302, response.status_code
    return response


def answer_pages(client: FlaskClient, pages: Mapping[str, Mapping[str, Any]]) -> Any:
    """Answer each question page in order (on top of what it is pre-filled with)."""
    response = None
    for slug, answers in pages.items():
        path = f"/report/questions/{slug}"
        token, values = _form_state(client, path)
        response = client.post(path, data={**values, **answers, "csrf_token": token})
        assert response.status_code == 302, f"{slug}: {response.status_code} {response.get_data(as_text=True)[:3000]}"
    return response


def choose(client: FlaskClient, recipients: Sequence[str], consent: Mapping[str, str] | None = None) -> Any:
    consent = {d: "once" for d in recipients} if consent is None else consent
    data: dict[str, Any] = {"recipients": list(recipients)}
    data.update({f"consent-{d}": c for d, c in consent.items()})
    return post_form(client, "/report/organisations", data)


def report_a_move(client: FlaskClient, *, recipients: Sequence[str] = THREE, consent: Mapping[str, str] | None = None,
                  submit: bool = True, **page_overrides: Any) -> Any:
    start_change(client, "address")
    answer_pages(client, move_answers(**page_overrides))
    response = choose(client, recipients, consent)
    assert response.status_code == 302 and response.location == "/report/check", response.status_code
    if not submit:
        return response
    return post_form(client, "/report/check", {})


def count(app: Flask, model: Any, **where: Any) -> int:
    with transaction(app.extensions["tellusonce.engine"], writer=False) as session:
        query = select(func.count()).select_from(model)
        for name, value in where.items():
            query = query.where(getattr(model, name) == value)
        return session.scalar(query) or 0


def written_rows(app: Flask) -> dict[str, int]:
    return {m.__name__: count(app, m) for m in (ChangeReport, Notification, ConsentGrant)}


def submitted_report(app: Flask, citizen: Citizen, *, recipients: Sequence[str] = THREE, line: str = "4 Canal Wharf",
                     consent: Mapping[str, str] | None = None, at: Any = None) -> ChangeReport:
    """A move reported straight through the intake (for pages that show reports)."""
    consent = {d: "once" for d in recipients} if consent is None else consent
    with transaction(app.extensions["tellusonce.engine"]) as session:
        me = session.get_one(Citizen, citizen.id)
        result = submit_change(
            session, me,
            ChangeRequest(change_type="address",
                          answers={"address_line_1": line, "town": "Leeds", "postcode": "LS11 5PS",
                                   "move_date": uk_date(at or utcnow()).isoformat()},
                          recipients=list(recipients), consent=dict(consent), channel="web",
                          submission_key=uuid.uuid4().hex),
            now=at or utcnow(),
        )
        session.flush()
        session.expunge_all()
    return result.report


def mark_delivered(app: Flask, report: ChangeReport, *departments: str) -> None:
    """``report``'s copies to ``departments`` delivered five minutes ago."""
    now = utcnow() - timedelta(minutes=5)
    with transaction(app.extensions["tellusonce.engine"]) as session:
        session.execute(update(Notification).where(Notification.report_id == report.id,
                                                   Notification.department_id.in_(departments))
                        .values(state=NotificationState.DELIVERED, delivered_at=now, next_attempt_at=None))


def report_notifications(app: Flask, report: ChangeReport) -> list[Notification]:
    with transaction(app.extensions["tellusonce.engine"], writer=False) as session:
        return list(session.scalars(select(Notification).where(Notification.report_id == report.id)
                                    .order_by(Notification.created_at, Notification.department_id)))


def page_text(page: Any) -> str:
    """A page's words with its white space folded."""
    return " ".join(page.get_text(" ").split())
