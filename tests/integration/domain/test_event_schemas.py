"""Every event validates against the schema it names, fetched from the running app.

A department that validates what it receives fetches ``dataschema`` and checks ``data``
with it. Here every change type is reported to every organisation in the registry that
receives it, once with every optional answer given and once with none, and what each
channel sends (the webhook body, the email's attachment, the feed API's event) is
checked that way: the schema is fetched by the path of its URL, and validated with
``jsonschema`` as any department would (draft 2020-12, its own format checks).
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from typing import Any
from urllib.parse import urlsplit

import pytest
from jsonschema import Draft202012Validator
from sqlalchemy import select

from tellusonce.application.intake import ChangeRequest, submit_change
from tellusonce.db import transaction
from tellusonce.domain.changetypes import CHANGE_TYPES
from tellusonce.models import ChangeReport, OutgoingEmail
from tellusonce_services.registry import load_registry
from tests.conftest import REGISTRY
from tests.dispatch_helpers import api_key, dispatch_once, point_at, states
from tests.factories import NOW, address_answers, death_answers, make_citizen

PUBLIC_URL = "https://tellusonce.test"
DEPARTMENTS = load_registry(REGISTRY).departments

# Every optional answer of each change type, on top of the required ones (the identity and the
# reporter's names come from the citizen's profile).
OPTIONAL: dict[str, dict[str, Any]] = {
    "address": {"address_line_2": "Flat 3", "previous_address": "12 Hill Street, Leeds", "previous_postcode": "LS1 1AA",
                "others_moving": True, "protected_address": False},
    "name": {},
    "contact": {"phone": "07911 123456"},
    "death": {"deceased_ni_number": "AB123456C", "deceased_address_line_2": "Flat 1",
              "reporter_phone": "07911 123456"},
    "birth": {"place_of_birth": "Leeds", "parent_2_given_names": "Kwame", "parent_2_family_name": "Mensah",
              "address_line_2": "Flat 3", "reporter_phone": "07911 123456"},
}
REQUIRED: dict[str, dict[str, Any]] = {
    "address": address_answers(),
    "name": {"new_given_names": "Amara Grace", "new_family_name": "Mensah", "reason": "marriage",
             "change_date": "2026-11-14"},
    "contact": {"email": "amara.new@example.org"},
    "death": death_answers(),
    "birth": {"child_given_names": "Kofi", "child_family_name": "Mensah", "child_date_of_birth": "2026-11-01",
              "parent_1_given_names": "Amara", "parent_1_family_name": "Mensah", "address_line_1": "4 Canal Wharf",
              "town": "Leeds", "postcode": "LS11 5PS", "reporter_relationship": "mother", "authority_declared": True},
}
# A citizen whose profile holds every optional detail, and one whose profile holds none of them.
FULL_PROFILE = {"ni_number": "AB123456C", "phone": "+447911123456"}
BARE_PROFILE = {"ni_number": None, "phone": None, "address_line_1": None, "town": None, "postcode": None}

CASES = [
    *[pytest.param(t, "every optional answer", id=f"{t}-every optional answer") for t in CHANGE_TYPES],
    pytest.param("address", "every optional answer, address protected", id="address-protected"),
    *[pytest.param(t, "no optional answer", id=f"{t}-no optional answer") for t in CHANGE_TYPES],
]


@pytest.fixture
def settings(settings):
    """The service as published at its own address, which every schema URL must be built from."""
    return dataclasses.replace(settings, public_url=PUBLIC_URL)


def _answers(change_type: str, case: str) -> dict[str, Any]:
    if case == "no optional answer":
        return dict(REQUIRED[change_type])
    answers = {**REQUIRED[change_type], **OPTIONAL[change_type]}
    if "protected" in case:
        answers["protected_address"] = True
    return answers


def _report_to_everyone_who_receives(engine, change_type: str, case: str) -> set[str]:
    receivers = {d.id for d in DEPARTMENTS if change_type in d.receives}
    profile = BARE_PROFILE if case == "no optional answer" else FULL_PROFILE
    with transaction(engine) as session:
        citizen = make_citizen(session, **profile)
        result = submit_change(session, citizen, ChangeRequest(
            change_type=change_type, answers=_answers(change_type, case), recipients=sorted(receivers),
            consent={d: "once" for d in receivers}, channel="web", submission_key=uuid.uuid4().hex), now=NOW)
        answered = set(session.get_one(ChangeReport, result.report.id).answers)
    every_field = set(CHANGE_TYPES[change_type].field_names)
    if case == "no optional answer":
        # The reporter's email comes from the account, which always has one; a yes/no question
        # left out is answered with its default.
        required = {f.name for f in CHANGE_TYPES[change_type].fields if f.required}
        defaulted = {f.name for f in CHANGE_TYPES[change_type].fields if f.default is not None}
        assert answered - required <= {"reporter_email", "email"} | defaulted, answered - required
    else:
        assert answered == every_field, every_field - answered
    return receivers


def _sent_events(engine, settings, server, client, runner) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """What each channel sent: (department, event) for webhook bodies, email attachments and the feed;
    each the same event as the department API gives for that notification."""
    pushed = {d.id for d in DEPARTMENTS if d.channel != "feed"}

    def waiting() -> list[str]:
        return [d for d, s in states(engine).items() if d in pushed and "pending" in s]

    for _ in range(10):
        if not waiting():
            break
        dispatch_once(engine, settings, now=NOW)
    assert waiting() == []
    sent: dict[str, list[tuple[str, dict[str, Any]]]] = {
        "webhook": [(r.department, json.loads(r.body)) for r in server.received], "email": [], "feed": []}
    addresses = {d.email: d.id for d in DEPARTMENTS if d.channel == "email"}
    with transaction(engine, writer=False) as session:
        for email in session.scalars(select(OutgoingEmail).where(OutgoingEmail.purpose == "department_notification")):
            [attachment] = email.attachments
            sent["email"].append((addresses[email.to_address], json.loads(attachment["content"])))
    feed = {d.id for d in DEPARTMENTS if d.channel == "feed"}
    for department in (d.id for d in DEPARTMENTS):
        key = api_key(runner, department, label="schema tests")
        page = client.get("/api/v1/notifications?limit=500", headers={"Authorization": f"Bearer {key}"})
        assert page.status_code == 200, page.json
        from_api = [item["event"] for item in page.json["notifications"]]
        if department in feed:
            sent["feed"] += [(department, event) for event in from_api]
        else:  # the API shows every department the event its own channel carried
            pushed_events = [event for told, event in sent["webhook"] + sent["email"] if told == department]
            assert sorted(from_api, key=lambda e: e["id"]) == sorted(pushed_events, key=lambda e: e["id"])
    return sent


def _schema_named_by(client, event: dict[str, Any]) -> dict[str, Any]:
    url = event["dataschema"]
    assert url.startswith(f"{PUBLIC_URL}/schemas/"), url
    response = client.get(urlsplit(url).path)
    assert response.status_code == 200, url
    schema = json.loads(response.get_data(as_text=True))
    Draft202012Validator.check_schema(schema)
    assert schema["$id"] == url
    return schema


@pytest.mark.parametrize(("change_type", "case"), CASES)
def test_every_event_the_registry_can_produce_validates_against_the_schema_it_names(
        committed, app, client, runner, settings, department_server, change_type, case):
    point_at(committed, department_server)
    receivers = _report_to_everyone_who_receives(committed, change_type, case)
    sent = _sent_events(committed, settings, department_server, client, runner)
    told = {department for events in sent.values() for department, _ in events}
    assert told == receivers
    for channel, events in sent.items():
        for department, event in events:
            assert event["type"] == f"tellusonce.change.{change_type}.v1"
            assert event["source"] == PUBLIC_URL
            validator = Draft202012Validator(_schema_named_by(client, event),
                                             format_checker=Draft202012Validator.FORMAT_CHECKER)
            problems = [f"{'/'.join(map(str, e.path)) or 'data'}: {e.message}" for e in validator.iter_errors(event["data"])]
            assert problems == [], f"{channel} event to {department}"


def test_an_event_names_the_schema_of_what_it_carries_not_the_change_a_citizen_submits(
        committed, app, client, settings, department_server):
    point_at(committed, department_server)
    _report_to_everyone_who_receives(committed, "death", "no optional answer")
    dispatch_once(committed, settings, now=NOW)
    [event] = [json.loads(r.body) for r in department_server.received if r.department == "hmpo"]
    assert event["dataschema"] == f"{PUBLIC_URL}/schemas/events/death.v1.json"
    # HM Passport Office is not given the last address: the change schema would refuse the event.
    change_schema = json.loads(client.get("/schemas/death.json").get_data(as_text=True))
    assert change_schema["$id"] == f"{PUBLIC_URL}/schemas/death.json"
    assert not Draft202012Validator(change_schema).is_valid(event["data"])
    assert Draft202012Validator(_schema_named_by(client, event)).is_valid(event["data"])


# A correction of each kind of change: every optional answer taken out, and one answer changed.
CORRECTED: dict[str, dict[str, Any]] = {
    "address": {"town": "Wakefield"}, "name": {"new_family_name": "Okafor"},
    "contact": {"email": "amara.other@example.org"}, "death": {"deceased_town": "Bradford"},
    "birth": {"town": "Bradford"},
}


@pytest.mark.parametrize(("change_type", "protect"), [
    *[pytest.param(t, False, id=t) for t in CHANGE_TYPES], pytest.param("address", True, id="address-now-protected")])
def test_every_correction_event_validates_against_the_schema_it_names(
        committed, app, client, runner, settings, department_server, change_type, protect):
    from tellusonce.application.correction import correct_report
    from tellusonce.models import Citizen

    point_at(committed, department_server)
    _report_to_everyone_who_receives(committed, change_type, "every optional answer")
    _sent_events(committed, settings, department_server, client, runner)  # every original delivered
    with transaction(committed) as session:
        report = session.scalars(select(ChangeReport)).one()
        answers = {**report.answers, **dict.fromkeys(OPTIONAL[change_type]), **CORRECTED[change_type]}
        if protect:
            answers["protected_address"] = True
        correct_report(session, session.get_one(Citizen, report.citizen_id), report, answers, now=NOW)
    sent = _sent_events(committed, settings, department_server, client, runner)
    corrections = [(channel, department, event) for channel, events in sent.items() for department, event in events
                   if event["type"] == f"tellusonce.change.{change_type}.corrected.v1"]
    assert "webhook" in {channel for channel, _, _ in corrections}
    for channel, department, event in corrections:
        validator = Draft202012Validator(_schema_named_by(client, event),
                                         format_checker=Draft202012Validator.FORMAT_CHECKER)
        problems = [f"{'/'.join(map(str, e.path)) or 'data'}: {e.message}" for e in validator.iter_errors(event["data"])]
        assert problems == [], f"{channel} correction to {department}"
