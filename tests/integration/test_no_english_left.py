"""Every page a citizen can reach, and every email the pages send, in Welsh: no English left.

The pages come from the app's URL map (every GET rule less the machine-readable ones), each
signed out and signed in; the question pages from the change-type catalogue's pages
(``report_pages.PAGES``), each shown, then sent empty so that its errors show; every other
form is sent empty too. So a new page or change type is read here without a change to this
file, and a page whose address takes an argument this file cannot fill fails until it is
said how (``ARGUMENTS``). Each page is read twice with the same browser state, in Welsh
(the ``tellusonce_language=cy`` cookie) and in English, and fails on:

- a message of the catalogue shown in English (its Welsh missing, fuzzy, or never looked up);
- text that reads the same in both languages, less what the person typed: a string never
  marked for translation.

The emails are those the pages queued while being read in Welsh (every account email, the
confirmation of a report), each rendered as it is sent. The replies to changes sent by email
go through the same check in ``tests/integration/mail/test_changes_welsh.py``, beside the listener;
the closing of an account and the notices of what became of a report in their own tests
(``tests/integration/web/test_account_close.py``, ``tests/integration/services/dispatch/test_notices.py``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from account_helpers import PASSWORD, make_citizen
from bs4 import BeautifulSoup
from english_left import english_in_both, english_in_email, english_on_page
from flask import Flask, render_template
from flask.testing import FlaskClient
from journey_helpers import answer_pages, choose, move_answers, start_change
from sqlalchemy import select

from tellusonce.application.intake import ChangeRequest, hold_change, submit_change
from tellusonce.clock import utcnow
from tellusonce.data.citizens import issue_token
from tellusonce.data.inbound import issue_confirmation
from tellusonce.db import transaction
from tellusonce.domain.changetypes import CHANGE_TYPES
from tellusonce.mailout.render import render_email, translate_subject
from tellusonce.models import Citizen, OutgoingEmail, TokenPurpose
from tellusonce.settings import PROJECT_ROOT
from tellusonce.web.errors import MACHINE_PREFIXES
from tellusonce.web.language import COOKIE
from tellusonce.web.report_pages import PAGES
from tests.factories import address_answers

# Addresses no person reads as a page: data for programs, files, the language switch itself.
NOT_PAGES = (*MACHINE_PREFIXES, "/assets/", "/healthz", "/metrics", "/language/")
NOT_PAGE_SUFFIXES = (".json", ".csv", ".zip")
# How each <argument> of a page's address is filled; a new one must be said here.
ARGUMENTS = ("token", "reference", "department_id", "slug")
# What the citizen and the test typed: the same in both languages, and not English.
TYPED = ["Ada", "Lovelace", "Ada Lovelace", "12 Hill Street", "Leeds", "LS1 1AA", "4 Canal Wharf", "LS11 5PS",
         "AB123456C", "AB 12 34 56 C", "welsh@example.org", "unconfirmed@example.org", "07911 123456",
         "+447911123456", "changes@tellusonce.test", "tellusonce.test", "GOV.UK", "DVLA", "HMRC", "DWP",
         "TV Licensing", "API", "JSON", "CSV", "webhook", "Ada Lovelace (you)", "Beta"]
ERROR_TEMPLATES = sorted(p.name for p in (PROJECT_ROOT / "templates" / "errors").glob("*.html"))


@dataclass
class Visit:
    """One page read in both languages, and what was wrong with it."""

    name: str
    status: int
    english: list[str] = field(default_factory=list)
    same: list[str] = field(default_factory=list)


@dataclass
class Reader:
    """A browser that reads each page in Welsh and then in English, and remembers what it found."""

    app: Flask
    client: FlaskClient
    allowed: list[str]
    visits: list[Visit] = field(default_factory=list)

    def _in(self, language: str) -> None:
        self.client.set_cookie(COOKIE, language, domain="localhost")

    def get(self, path: str, name: str | None = None) -> Visit:
        return self._read(name or f"GET {path}", lambda: self.client.get(path))

    def post(self, path: str, data: dict[str, Any] | None = None, *, form_page: str | None = None,
             name: str | None = None) -> Visit:
        def send() -> Any:
            page = BeautifulSoup(self.client.get(form_page or path).get_data(as_text=True), "html.parser")
            token = page.find("input", attrs={"name": "csrf_token"})
            return self.client.post(path, data={"csrf_token": token["value"] if token else "", **(data or {})})
        return self._read(name or f"POST {path} (empty)", send)

    def _read(self, name: str, fetch: Any) -> Visit:
        # English first: a message it flashes is shown on the next page, which is read in English too.
        self._in("en")
        english = fetch()
        self._in("cy")
        welsh = fetch()
        visit = Visit(name, welsh.status_code)
        if welsh.mimetype == "text/html" and welsh.status_code < 300:
            html = welsh.get_data(as_text=True)
            assert 'lang="cy"' in html.split(">", 2)[1] or '<html lang="cy"' in html, f"{name} is not in Welsh"
            visit.english = english_on_page(html)
            visit.same = english_in_both(html, english.get_data(as_text=True), allowed=self.allowed)
        elif welsh.mimetype == "text/html" and welsh.status_code >= 400:
            html = welsh.get_data(as_text=True)
            visit.english = english_on_page(html)
            visit.same = english_in_both(html, english.get_data(as_text=True), allowed=self.allowed)
        self.visits.append(visit)
        return visit

    def problems(self) -> list[str]:
        lines = []
        for visit in self.visits:
            lines += [f"{visit.name}: English message {m!r}" for m in visit.english]
            lines += [f"{visit.name}: the same in English {s!r}" for s in visit.same]
        return lines


def _pages(app: Flask) -> list[tuple[str, str, tuple[str, ...]]]:
    """Every page of the URL map: (endpoint, rule, its arguments)."""
    found = []
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or set()) or rule.rule.startswith(NOT_PAGES) or rule.rule.endswith(NOT_PAGE_SUFFIXES):
            continue
        if rule.endpoint.startswith("devmail.message"):
            continue  # one email as it was written, headers and all: read with the emails
        found.append((rule.endpoint, rule.rule, tuple(sorted(rule.arguments))))
    return sorted(found, key=lambda p: p[1])


@pytest.fixture
def citizen(app: Flask) -> Citizen:
    return make_citizen(app, "welsh@example.org", ni_number="AB123456C", address_line_1="12 Hill Street",
                        town="Leeds", postcode="LS1 1AA", phone="+447911123456", language="cy")


def _sign_in(client: FlaskClient, citizen: Citizen) -> None:
    with client.session_transaction() as browser:
        browser["citizen_id"] = str(citizen.id)
        browser["session_version"] = citizen.session_version


def _submitted(app: Flask, citizen: Citizen) -> str:
    with transaction(app.extensions["tellusonce.engine"]) as session:
        me = session.get_one(Citizen, citizen.id)
        result = submit_change(session, me, ChangeRequest(
            change_type="address", answers=address_answers(), recipients=["dvla", "hmrc"],
            consent={"dvla": "always", "hmrc": "once"}, channel="web", submission_key=uuid.uuid4().hex,
        ), now=utcnow())
        return result.report.reference


def _held_link(app: Flask, citizen: Citizen) -> str:
    with transaction(app.extensions["tellusonce.engine"]) as session:
        me = session.get_one(Citizen, citizen.id)
        held = hold_change(session, me, ChangeRequest(
            change_type="address", answers=address_answers(), recipients=["dvla"], consent={"dvla": "once"},
            channel="email", submission_key=uuid.uuid4().hex,
        ), now=utcnow())
        return issue_confirmation(session, me, held.report.id, now=utcnow())


def _token(app: Flask, citizen: Citizen, purpose: TokenPurpose, new_email: str | None = None) -> str:
    with transaction(app.extensions["tellusonce.engine"]) as session:
        me = session.get_one(Citizen, citizen.id)
        return issue_token(session, me, purpose, lifetime=timedelta(hours=1), now=utcnow(), new_email=new_email)


def _emails(app: Flask) -> list[OutgoingEmail]:
    with transaction(app.extensions["tellusonce.engine"], writer=False) as session:
        emails = list(session.scalars(select(OutgoingEmail)))
        session.expunge_all()
    return emails


@pytest.fixture
def reader(app: Flask, citizen: Citizen) -> Iterator[Reader]:
    yield Reader(app, app.test_client(), list(TYPED))


def test_every_page_a_citizen_can_reach_is_in_welsh(app: Flask, citizen: Citizen, reader: Reader) -> None:
    pages = _pages(app)
    unknown = {arg for _, _, args in pages for arg in args} - set(ARGUMENTS)
    assert not unknown, f"say in ARGUMENTS how to fill {unknown} to read those pages"
    reference = _submitted(app, citizen)
    reader.allowed.append(reference)

    # Signed out: every page without an argument, the forms sent empty, the links from emails.
    for _, rule, args in pages:
        if not args:
            reader.get(rule)
    for path in ("/account/create", "/account/sign-in", "/account/reset-password"):
        reader.post(path)
    reader.post("/account/sign-in", {"email": "welsh@example.org", "password": "not the password"},
                name="POST /account/sign-in (wrong password)")
    unconfirmed = make_citizen(app, "unconfirmed@example.org", verified=False)
    reader.get(f"/account/verify/{_token(app, unconfirmed, TokenPurpose.VERIFY_EMAIL)}")
    reader.get("/account/verify/not-a-token", name="GET /account/verify/<spent token>")
    reset = f"/account/reset-password/{_token(app, citizen, TokenPurpose.RESET_PASSWORD)}"
    reader.get(reset)
    reader.post(reset, {"password": "short"}, name="POST /account/reset-password/<token> (too short)")
    reader.get("/account/reset-password/not-a-token", name="GET /account/reset-password/<spent token>")
    held = f"/confirm-email-change/{_held_link(app, citizen)}"
    reader.get(held)
    reader.get("/confirm-email-change/not-a-token", name="GET /confirm-email-change/<spent token>")
    reader.post(held, {}, form_page=held, name="POST /confirm-email-change/<token>")
    reader.get(f"/confirm-email-change/done/{reference}", name="GET /confirm-email-change/done/<reference>")
    # Registering an address that has an account, and the unverified page after registering.
    reader.post("/account/create", {"email": "welsh@example.org", "password": PASSWORD},
                name="POST /account/create (an address with an account)")
    fresh = app.test_client()
    fresh.set_cookie(COOKIE, "cy", domain="localhost")
    page = BeautifulSoup(fresh.get("/account/create").get_data(as_text=True), "html.parser")
    fresh.post("/account/create", data={"csrf_token": page.find("input", attrs={"name": "csrf_token"})["value"],
                                        "email": "new-welsh@example.org", "password": PASSWORD})
    reader.client, signed_out = fresh, reader.client
    reader.get("/account/check-email")
    reader.get("/account/unverified")
    reader.client = signed_out

    # Signed in: every page again, with the report's and the organisation's pages.
    _sign_in(reader.client, citizen)
    for endpoint, rule, args in pages:
        if not args:
            reader.get(rule)
        elif args == ("reference",) and endpoint != "email_confirm.done":
            reader.get(rule.replace("<reference>", reference))
        elif args == ("department_id",):
            reader.get(rule.replace("<department_id>", "dvla"))
            reader.post(rule.replace("<department_id>", "dvla"), name=f"POST {rule} (empty)")
    reader.post("/account/details", {"postcode": "QQ1 1QQ", "given_names": ""},
                name="POST /account/details (invalid)")
    reader.post("/account/details/email", {"email": "welsh@example.org", "password": "not the password"},
                name="POST /account/details/email (invalid)")
    reader.post("/account/details/password", {"current_password": "not the password", "password": "short"},
                name="POST /account/details/password (invalid)")
    change = f"/account/confirm-new-email/{_token(app, citizen, TokenPurpose.CHANGE_EMAIL, new_email='newydd@example.org')}"
    reader.allowed.append("newydd@example.org")
    reader.get(change)
    reader.get("/account/confirm-new-email/not-a-token", name="GET /account/confirm-new-email/<spent token>")
    other = make_citizen(app, "other-welsh@example.org", given_names="Arall", language="cy")
    reader.get(f"/account/confirm-new-email/{_token(app, other, TokenPurpose.CHANGE_EMAIL, new_email='x@example.org')}",
               name="GET /account/confirm-new-email/<another account's token>")
    reader.post("/report/change")
    reader.get("/report/questions/new-address", name="GET /report/questions/<slug> (no journey)")

    # Every page of every change type: shown, then sent empty and sent invalid.
    for change_type, change_pages in PAGES.items():
        start_change(reader.client, change_type)
        for page_of in change_pages:
            path = f"/report/questions/{page_of.slug}"
            reader.get(path, name=f"GET {path} ({change_type})")
            empty = {name: "" for name in page_of.fields}
            reader.post(path, empty, name=f"POST {path} ({change_type}, empty)")
            reader.post(path, {name: ["31", "13", "1"] if "date" in name else "\u00a7" for name in page_of.fields},
                        name=f"POST {path} ({change_type}, invalid)")
        reader.get("/report/organisations", name=f"GET /report/organisations ({change_type})")
        reader.post("/report/organisations", name=f"POST /report/organisations ({change_type}, empty)")
    assert set(PAGES) == set(CHANGE_TYPES)

    # A move answered through to "check your answers", sent without a declaration, then sent.
    start_change(reader.client, "address")
    answer_pages(reader.client, move_answers())
    choose(reader.client, ["dvla", "hmrc"], {"dvla": "once", "hmrc": "always"})
    reader.get("/report/check", name="GET /report/check (a move)")
    reader.client.set_cookie(COOKIE, "cy", domain="localhost")
    page = BeautifulSoup(reader.client.get("/report/check").get_data(as_text=True), "html.parser")
    sent = reader.client.post("/report/check", data={"csrf_token": page.find("input", attrs={"name": "csrf_token"})["value"]})
    assert sent.status_code in (302, 303), sent.status_code
    # Its new reference is made up by the service ("TUO-E6JF-WJSC" has letters that look like a word).
    reader.allowed.append(sent.headers["Location"].rsplit("/", 1)[-1])
    reader.get(sent.headers["Location"], name="GET /report/confirmation/<reference> (just sent)")
    reader.get("/report/check", name="GET /report/check (already sent)")
    # (The demo mailbox's pages of one email show it as written: its words are read with the emails.)

    problems = reader.problems()
    assert not problems, f"{len(problems)} English texts on Welsh pages:\n" + "\n".join(problems)


@pytest.mark.parametrize("template", ERROR_TEMPLATES)
def test_every_error_page_is_in_welsh(app: Flask, template: str) -> None:
    """The error pages, some of which (500, 413) no test request can bring about in test mode."""
    with app.test_request_context("/", headers={"Cookie": f"{COOKIE}=cy"}):
        welsh = render_template(f"errors/{template}")
    with app.test_request_context("/", headers={"Cookie": f"{COOKIE}=en"}):
        english = render_template(f"errors/{template}")
    assert '<html lang="cy"' in welsh
    assert not english_on_page(welsh)
    assert not english_in_both(welsh, english, allowed=TYPED)


def test_every_email_the_pages_send_is_in_welsh(app: Flask, citizen: Citizen) -> None:
    client = app.test_client()
    client.set_cookie(COOKIE, "cy", domain="localhost")

    def send(path: str, data: dict[str, Any]) -> None:
        page = BeautifulSoup(client.get(path).get_data(as_text=True), "html.parser")
        response = client.post(path, data={"csrf_token": page.find("input", attrs={"name": "csrf_token"})["value"],
                                           **data})
        assert response.status_code in (302, 303), (path, response.status_code)

    _sign_in(client, citizen)
    start_change(client, "address")
    answer_pages(client, move_answers())
    choose(client, ["dvla", "hmrc"])
    send("/report/check", {})
    make_citizen(app, "taken-welsh@example.org", given_names="Arall", language="cy")
    send("/account/details/email", {"email": "taken-welsh@example.org", "password": PASSWORD})
    send("/account/details/email", {"email": "newydd@example.org", "password": PASSWORD})
    send(f"/account/confirm-new-email/{_token(app, citizen, TokenPurpose.CHANGE_EMAIL, 'newydd2@example.org')}", {})
    send("/account/details/password", {"current_password": PASSWORD, "password": PASSWORD + "!"})
    client = app.test_client()
    client.set_cookie(COOKIE, "cy", domain="localhost")
    send("/account/create", {"email": "new-welsh@example.org", "password": PASSWORD})
    send("/account/create", {"email": "newydd2@example.org", "password": PASSWORD})
    send("/account/reset-password", {"email": "newydd2@example.org"})
    send(f"/account/reset-password/{_token(app, citizen, TokenPurpose.RESET_PASSWORD)}", {"password": PASSWORD + "!"})

    emails = _emails(app)
    templates = {e.template for e in emails}
    assert {"verify_email", "account_exists", "reset_password", "password_changed", "report_submitted",
            "change_email_confirm", "change_email_requested", "change_email_in_use", "email_changed"} <= templates
    problems = []
    for email in emails:
        made = [str(v) for v in (email.context or {}).values() if isinstance(v, str)]
        made += [str(v) for value in (email.context or {}).values() if isinstance(value, list)
                 for v in value if isinstance(v, str)]
        assert email.language == "cy", f"{email.template} was queued in {email.language}"
        text, html = render_email(email.template, email.context or {}, language="cy")
        english_text, english_html = render_email(email.template, email.context or {}, language="en")
        subject = translate_subject(email.subject, email.context or {}, language="cy")
        problems += [f"{email.template} (subject): {m!r}" for m in english_in_email(email.subject)]
        problems += [f"{email.template} (text): {m!r}" for m in english_in_email(text)]
        if html is not None:
            problems += [f"{email.template} (HTML): {m!r}" for m in english_on_page(html)]
            problems += [f"{email.template} (HTML), the same in English: {m!r}"
                         for m in english_in_both(html, english_html or "", allowed=[*TYPED, *made])]
        assert subject
    assert not problems, f"{len(problems)} English texts in Welsh emails:\n" + "\n".join(problems)


def test_a_message_left_in_english_is_found_and_welsh_is_not() -> None:
    """The detector itself: a page with one English message, one Welsh, and one never marked."""
    english = '<html lang="en"><head><title>Sign in</title></head><body><h1>Sign in</h1>' \
              '<p>Enter your email address</p><p>Unmarked words left here</p></body></html>'
    welsh = '<html lang="cy"><head><title>Mewngofnodi</title></head><body><h1>Mewngofnodi</h1>' \
            '<p>Enter your email address</p><p>Unmarked words left here</p>' \
            '<div class="app-language-switch"><a lang="en">English</a></div></body></html>'
    assert "Enter your email address" in english_on_page(welsh)
    assert "Sign in" not in english_on_page(welsh)
    assert english_in_both(welsh, english) == ["Enter your email address", "Unmarked words left here"]
