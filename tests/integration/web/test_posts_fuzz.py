"""Fuzzed posts to every page's form: whatever is sent, the answer is never a 5xx.

The forms are found from the app's URL map (every rule that takes a POST, less
the department API), and each form's fields from its own page, so a new form
is fuzzed without a change here. Each post is made as an attacker with the
victim's session would make it: signed in where the page needs it, with the
journey or the emailed link the page needs, and with a valid CSRF token; then
its fields get hostile values (huge integers, other scripts' digits, NUL, very
long text, repeated keys, file parts) in every kind of body (a form, multipart,
JSON, raw bytes under any content type) from this site or another.

In test mode an exception in a view is raised here rather than turned into a
500 page, so a failure shows its traceback with the example that caused it.
"""

from __future__ import annotations

import dataclasses
import io
import json
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest
from account_helpers import make_citizen
from bs4 import BeautifulSoup
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from journey_helpers import report_a_move, start_change
from sqlalchemy import Engine, select, update

from tellusonce import create_app
from tellusonce.application.intake import ChangeRequest, hold_change, submit_change
from tellusonce.clock import today, utcnow
from tellusonce.data.citizens import issue_token
from tellusonce.data.inbound import issue_confirmation
from tellusonce.db import transaction
from tellusonce.models import Citizen, TokenPurpose
from tellusonce.settings import Settings
from tellusonce.web.errors import MACHINE_PREFIXES
from tellusonce.web.report_pages import PAGES
from tests.factories import address_answers, death_answers

EXAMPLES_PER_FORM = 8
MY_DETAILS = {"given_names": "Ada", "family_name": "Lovelace", "date_of_birth": ["27", "3", "1985"],
              "ni_number": "AB123456C"}
STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}

# -- hostile values ------------------------------------------------------------------------

OTHER_DIGITS = "٠١٢٣٤٥٦٧٨٩۰۱۲۳０１２３４５６７８９𝟎𝟏²"
PLAUSIBLE = ["", " ", "yes", "no", "once", "always", "address", "death", "dvla", "hmrc", "executor", "31", "12",
             "9999", "0", "-1", "LS1 1AA", "QQ 12 34 56 C", "ada@example.com", "correct horse battery staple",
             "/account/details", "//attacker.example", "https://attacker.example/"]
# Characters no one types into a form; NUL the most often, as PostgreSQL cannot store it.
UNTYPABLE = ["\x00", "\x00", "\x00", "\x1b", "\x7f", "\x85", "\u202e", "\ufeff"]
odd_answers = st.builds(lambda answer, odd: f"{answer[:2]}{odd}{answer[2:]}", st.sampled_from(PLAUSIBLE),
                        st.sampled_from(UNTYPABLE + list(OTHER_DIGITS[:3])))
text_values = st.one_of(
    st.sampled_from(PLAUSIBLE),
    odd_answers,
    st.integers(min_value=2**31, max_value=10**40).map(str),
    st.integers(max_value=-(2**31)).map(str),
    st.text(alphabet=OTHER_DIGITS + "LSAQC ", max_size=12),
    st.text(max_size=30),
    st.text(max_size=10).map(lambda s: f"{s}\x00{s}"),
    st.integers(min_value=1_000, max_value=150_000).map(lambda n: "9" * n),
    st.integers(min_value=1_000, max_value=50_000).map(lambda n: "é" * n),
)
file_parts = st.builds(lambda body, name: (io.BytesIO(body), name), st.binary(max_size=64),
                       st.sampled_from(["answer.txt", "", "../../etc/passwd", "a\x00.pdf"]))
field_values = st.lists(st.one_of(text_values, text_values, text_values, file_parts), max_size=4)
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                        max_size=3), max_leaves=8)
RAW_TYPES = ["application/x-www-form-urlencoded", "application/x-www-form-urlencoded; charset=utf-16",
             "multipart/form-data", "multipart/form-data; boundary=x", "text/plain", "application/xml",
             "application/octet-stream", "application/json", "text/html; charset=utf-8", "*/*", ""]
ORIGINS = [{}, {"Origin": "http://localhost"}, {"Origin": "https://attacker.example"}, {"Origin": "null"},
           {"Sec-Fetch-Site": "same-origin"}, {"Sec-Fetch-Site": "cross-site"}, {"Origin": "http://[::1"}]


@st.composite
def posts(draw: st.DrawFn, fields: list[str], *, arguments: bool) -> dict[str, Any]:
    """One post: its fields and values, how its body is written, where it says it comes from, and
    (now and then) a hostile value in place of each argument of its address."""
    if fields and draw(st.booleans()):
        # One hostile answer alone: where the other answers are optional, it gets as far as being saved.
        data = {draw(st.sampled_from(fields)): [draw(st.one_of(odd_answers, text_values))]}
    else:
        names = draw(st.lists(st.sampled_from(fields), unique=True)) if fields else []
        names += draw(st.lists(st.text(max_size=12), max_size=2))
        data = {name: draw(field_values) for name in names}
    body = draw(st.sampled_from(["form", "form", "form", "multipart", "json", "raw"]))
    post: dict[str, Any] = {"body": body, "data": data, "headers": draw(st.sampled_from(ORIGINS))}
    post["argument"] = draw(st.one_of(st.none(), st.none(), odd_answers, text_values)) if arguments else None
    if body == "json":
        post["json"] = draw(json_values)
    elif body == "raw":
        post["raw"] = draw(st.binary(max_size=300))
        post["content_type"] = draw(st.sampled_from(RAW_TYPES))
    return post


# -- the forms -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Form:
    endpoint: str
    path: str  # with every <argument> still in it, filled in per post (a link is spent when used)
    arguments: tuple[tuple[str, str], ...]
    has_page: bool  # the same address shows the form (GET)
    journey: str | None  # "complete", or the change type of a journey just started

    @property
    def name(self) -> str:
        return self.path + (f" ({self.journey} journey)" if self.journey else "")


# How each <argument> of a page's address is filled; a new one must be said here.
ISSUED = "<issued>"  # a fresh token for each post, as the link in an email carries it
REPORTED = "<reported>"  # a report of the citizen's, sent just now: each post may cancel one
ARGUMENTS = {"department_id": "dvla", "token": ISSUED, "slug": "every question page of every change",
             "reference": REPORTED}


# A sent report of each kind, for the correction pages of its questions (who is told, and what it says;
# the reporter's names and email come from the account).
CORRECTED = {
    "address": ("dvla", address_answers()),
    "name": ("dvla", {"new_given_names": "Amara Grace", "new_family_name": "Mensah", "reason": "marriage"}),
    "contact": ("hmrc", {"email": "amara.new@example.org"}),
    "death": ("dwp", death_answers()),
    "birth": ("hmrc", {"child_given_names": "Kofi", "child_family_name": "Mensah", "parent_1_given_names": "Amara",
                       "parent_1_family_name": "Mensah", "address_line_1": "4 Canal Wharf", "town": "Leeds",
                       "postcode": "LS11 5PS", "reporter_relationship": "mother", "authority_declared": True}),
}
DATED = {"name": "change_date", "birth": "child_date_of_birth"}


def page_forms(app: Flask) -> list[Form]:
    forms: list[Form] = []
    rules = list(app.url_map.iter_rules())
    for rule in rules:
        if not (rule.methods or set()) & STATE_CHANGING or rule.rule.startswith(MACHINE_PREFIXES):
            continue
        unknown = set(rule.arguments) - set(ARGUMENTS)
        assert not unknown, f"{rule.rule}: say in ARGUMENTS how to fill <{'>, <'.join(sorted(unknown))}>"
        has_page = any("GET" in (other.methods or ()) and other.rule == rule.rule for other in rules)
        arguments = tuple((a, ARGUMENTS[a]) for a in sorted(rule.arguments) if a != "slug")
        if "slug" in rule.arguments:
            forms += [Form(rule.endpoint, rule.rule.replace("<slug>", page.slug), arguments, has_page, change_type)
                      for change_type, pages in PAGES.items() for page in pages]
            continue
        journey = "complete" if rule.endpoint.startswith("report.") and rule.endpoint != "report.change_type" else None
        forms.append(Form(rule.endpoint, rule.rule, arguments, has_page, journey))
    return forms


class Site:
    """The app with a citizen, an unconfirmed one, and what each form needs before it is posted."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.engine = app.extensions["tellusonce.engine"]
        self.citizen = make_citizen(app, "fuzz@example.org", ni_number="AB123456C", address_line_1="12 Hill Street",
                                    town="Leeds", postcode="LS1 1AA")
        self.unconfirmed = make_citizen(app, "unconfirmed@example.org", verified=False)
        self.signed_out: dict[str, bool] = {}
        self.reached: set[str] = set()
        self.ready: dict[str, tuple[FlaskClient, str, str, list[str]]] = {}

    def client_for(self, form: Form) -> tuple[FlaskClient, str, str, list[str]]:
        """A browser ready to post ``form``: its address, its CSRF token and the form's field names.

        The same browser is used again until a post is redirected: a post that was refused changed
        nothing (a link is still unspent, the journey still open), and making one costs requests."""
        if form.name not in self.ready:
            self.ready[form.name] = self._arrange(form)
        return self.ready[form.name]

    def answered(self, form: Form, status: int) -> None:
        if 300 <= status < 400:
            self.ready.pop(form.name, None)

    def _arrange(self, form: Form) -> tuple[FlaskClient, str, str, list[str]]:
        path = self._fill(form)
        if form.name not in self.signed_out:
            self.signed_out[form.name] = form.journey is None and self._page(self._browser(False), path)[0] is not None
        client = self._browser(signed_in=not self.signed_out[form.name])
        if form.endpoint == "correct.check" and not self.signed_out[form.name]:
            # The check page offers to send a correction once an answer is changed.
            question = f"{path}/questions/new-address"
            changed = {"address_line_1": "5 Canal Wharf", "town": "Leeds", "postcode": "LS11 5PS"}
            client.post(question, data={"csrf_token": self._page(client, question)[0], **changed})
        if form.journey == "complete":
            report_a_move(client, submit=False, your_details=MY_DETAILS)  # the account's may be fuzzed by now
        elif form.journey:
            start_change(client, form.journey)
        token, fields = self._page(client, path) if form.has_page else (None, [])
        if token is not None:
            self.reached.add(form.name)
        else:
            token, _ = self._page(client, "/report/check" if form.journey == "complete" else
                                  "/account/sign-in" if self.signed_out[form.name] else "/report/change")
        assert token, f"no CSRF token for {form.name}"
        return client, path, token, fields

    def _browser(self, signed_in: bool) -> FlaskClient:
        client = self.app.test_client()
        with transaction(self.engine) as session:
            session.execute(update(Citizen).where(Citizen.id == self.unconfirmed.id).values(email_verified_at=None))
            version = session.scalars(select(Citizen.session_version).where(Citizen.id == self.citizen.id)).one()
        with client.session_transaction() as browser:
            browser["unverified_citizen"] = str(self.unconfirmed.id)
            if signed_in:
                browser["citizen_id"] = str(self.citizen.id)
                browser["session_version"] = version
        return client

    def _fill(self, form: Form) -> str:
        path = form.path
        for name, value in form.arguments:
            change_type = form.journey if form.endpoint.startswith("correct.") and form.journey else "address"
            filled = (self._token(form.endpoint) if value == ISSUED else self._reported(change_type)
                      if value == REPORTED else value)
            path = path.replace(f"<{name}>", filled)
        return path

    def _reported(self, change_type: str = "address") -> str:
        department, answers = CORRECTED[change_type]
        if change_type in DATED:
            answers = {**answers, DATED[change_type]: (today() - timedelta(days=8)).isoformat()}
        with transaction(self.engine) as session:
            citizen = session.get_one(Citizen, self.citizen.id)
            return submit_change(session, citizen, ChangeRequest(
                change_type=change_type, answers=answers, recipients=[department], consent={department: "once"},
                channel="web", submission_key=uuid.uuid4().hex), now=utcnow()).report.reference

    def _token(self, endpoint: str) -> str:
        """A link's token as its email gives it: each post may spend one."""
        now = utcnow()
        with transaction(self.engine) as session:
            if endpoint == "account.verify":
                citizen = session.get_one(Citizen, self.unconfirmed.id)
                return issue_token(session, citizen, TokenPurpose.VERIFY_EMAIL, lifetime=timedelta(hours=1), now=now)
            citizen = session.get_one(Citizen, self.citizen.id)
            if endpoint == "account.reset_password":
                return issue_token(session, citizen, TokenPurpose.RESET_PASSWORD, lifetime=timedelta(hours=1), now=now)
            if endpoint == "account_email.confirm":
                return issue_token(session, citizen, TokenPurpose.CHANGE_EMAIL, lifetime=timedelta(hours=1), now=now,
                                   new_email="fuzzed-new-address@example.com")
            assert endpoint == "email_confirm.confirm", f"say how to make a token for {endpoint}"
            held = hold_change(session, citizen, ChangeRequest(
                change_type="address", answers=address_answers(given_names="Ada", family_name="Lovelace",
                                                                date_of_birth="1985-03-27"),
                recipients=["dvla"], consent={"dvla": "once"}, channel="email", submission_key=uuid.uuid4().hex,
            ), now=now)
            return issue_confirmation(session, citizen, held.report.id, now=now)

    @staticmethod
    def _page(client: FlaskClient, path: str) -> tuple[str | None, list[str]]:
        """The CSRF token and field names of the form posting to ``path`` on its page, if it shows one."""
        response = client.get(path)
        if response.status_code != 200 or response.mimetype != "text/html":
            return None, []
        page = BeautifulSoup(response.get_data(as_text=True), "html.parser")
        for form in page.select("form[method=post], form[method=POST]"):
            token = form.find("input", attrs={"name": "csrf_token"})
            action = form.get("action") or path
            if token is None or action.split("?")[0] != path:
                continue
            names = {f.get("name") for f in form.select("input, select, textarea")} - {None, "csrf_token"}
            return str(token["value"]), sorted(names)
        return None, []


def send(client: FlaskClient, path: str, token: str, post: dict[str, Any]):
    headers = {**post["headers"], "X-CSRFToken": token}
    if post["body"] == "json":
        return client.post(path, data=json.dumps(post["json"]), content_type="application/json", headers=headers)
    if post["body"] == "raw":
        return client.post(path, data=post["raw"], content_type=post["content_type"], headers=headers)
    data = {**post["data"], "csrf_token": token}
    files = any(isinstance(v, tuple) for values in post["data"].values() for v in values)
    content_type = "multipart/form-data" if post["body"] == "multipart" or files else None
    return client.post(path, data=data, content_type=content_type, headers=headers)


@pytest.fixture
def site(settings: Settings, engine: Engine, database_cleaner: Callable[[Engine], None]) -> Iterator[Site]:
    """The app with limits no fuzzing reaches: a 429 would hide what the form does."""
    app = create_app(dataclasses.replace(settings, account_rate_limit="100000 per minute",
                                         account_rate_limit_per_address="100000 per minute"))
    yield Site(app)
    app.extensions["tellusonce.engine"].dispose()
    database_cleaner(engine)


def test_every_page_form_is_found_with_the_address_it_posts_to(site: Site) -> None:
    found = {form.name for form in page_forms(site.app)}
    assert {"/account/details", "/account/sign-in", "/account/reset-password/<token>", "/report/change",
            "/report/questions/move-date (address journey)", "/report/check (complete journey)",
            "/consents/<department_id>/change", "/confirm-email-change/<token>"} <= found
    assert not any(name.startswith("/api/") for name in found)


def test_no_post_to_any_page_form_is_answered_with_a_server_error(site: Site) -> None:
    forms = page_forms(site.app)
    for form in forms:
        fuzz(site, form)
    unreached = {f.name for f in forms if f.has_page} - site.reached
    assert not unreached, f"these forms were never shown, so never fuzzed: {sorted(unreached)}"


def fuzz(site: Site, form: Form) -> None:
    fields = site.client_for(form)[3]  # found once: what is drawn must not depend on the page's state

    @hypothesis_settings(max_examples=EXAMPLES_PER_FORM, deadline=None, database=None,
                         suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(data=st.data())
    def post_hostile_values(data: st.DataObject) -> None:
        client, path, token, _ = site.client_for(form)
        post = data.draw(posts(fields, arguments=bool(form.arguments)), label=form.name)
        if post["argument"] is not None:
            path = form.path
            for name, _ in form.arguments:
                path = path.replace(f"<{name}>", quote(post["argument"], safe=""))
        response = send(client, path, token, post)
        assert response.status_code < 500, f"{form.name}: {response.status_code}"
        site.answered(form, response.status_code)

    post_hostile_values()
