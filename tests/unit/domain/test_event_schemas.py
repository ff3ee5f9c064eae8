"""The event data schema follows from the registry: what some organisation receives, what every one always gets."""

from __future__ import annotations

from dataclasses import dataclass, field

from jsonschema import Draft202012Validator

from tellusonce.domain.changetypes import get_change_type
from tellusonce.domain.consent import minimise
from tellusonce.domain.event_schemas import event_data_schema

BASE = "https://tellusonce.test"
RECEIPT = "6f1c9a52-4b7e-4d2a-9a53-0c1f6f0e8b11"


@dataclass
class Dept:
    id: str
    receives: dict[str, list[str]] = field(default_factory=dict)
    needs_protected_address: bool = False
    active: bool = True
    receives_language: bool = False


def _schema(change_type: str, *departments: Dept) -> dict:
    return event_data_schema(get_change_type(change_type), departments, base_url=BASE)


def _valid(schema: dict, data: dict) -> bool:
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER).is_valid(data)


def test_a_field_is_required_only_when_every_organisation_told_receives_it_and_the_citizen_must_give_it():
    schema = _schema("name", Dept("a", {"name": ["given_names", "new_family_name", "ni_number"]}),
                     Dept("b", {"name": ["given_names", "reason"]}), Dept("c", {"address": ["town"]}))
    assert schema["$id"] == f"{BASE}/schemas/events/name.v1.json"
    assert list(schema["properties"]) == ["given_names", "ni_number", "new_family_name", "reason", "consent_receipt_id"]
    assert schema["required"] == ["given_names", "consent_receipt_id"]
    assert _valid(schema, {"given_names": "Amara", "reason": "marriage", "consent_receipt_id": RECEIPT})
    assert not _valid(schema, {"given_names": "Amara", "town": "Leeds", "consent_receipt_id": RECEIPT})
    assert not _valid(schema, {"given_names": "Amara"})


def test_an_address_withheld_when_protected_is_not_required_and_the_protection_is_described():
    told = Dept("council", {"address": ["given_names", "postcode", "move_date"]})
    needs = Dept("dwp", {"address": ["given_names", "postcode", "move_date"]}, needs_protected_address=True)
    schema = _schema("address", told, needs)
    assert schema["required"] == ["given_names", "move_date", "consent_receipt_id"]
    assert _schema("address", needs)["required"] == ["given_names", "postcode", "move_date", "consent_receipt_id"]
    answers = {"given_names": "Amara", "postcode": "LS11 5PS", "move_date": "2026-11-15", "protected_address": True}
    sent = minimise(answers, ["given_names", "move_date"], protected_address=True)
    assert _valid(schema, {**sent, "consent_receipt_id": RECEIPT})


def test_at_least_one_of_a_group_is_required_only_where_every_organisation_receives_the_whole_group():
    both = Dept("both", {"contact": ["given_names", "email", "phone"]})
    assert _schema("contact", both)["allOf"] == [{"anyOf": [{"required": ["email"]}, {"required": ["phone"]}]}]
    schema = _schema("contact", both, Dept("email only", {"contact": ["given_names", "email"]}))
    assert "allOf" not in schema
    assert _valid(schema, {"given_names": "Amara", "consent_receipt_id": RECEIPT})  # the phone went elsewhere


def test_a_change_nobody_receives_has_a_schema_of_the_receipt_id_alone():
    schema = _schema("birth", Dept("a", {"name": ["given_names"]}), Dept("off", {"birth": ["town"]}, active=False))
    assert schema["properties"] == {"consent_receipt_id": schema["properties"]["consent_receipt_id"]}
    assert schema["required"] == ["consent_receipt_id"]


def test_the_language_is_in_the_schema_where_the_registry_grants_it_and_required_where_all_are_told_it():
    told = Dept("welsh", {"address": ["given_names", "move_date"]}, receives_language=True)
    other = Dept("other", {"address": ["given_names", "move_date"]})
    schema = _schema("address", told)
    assert schema["properties"]["language"]["enum"] == ["cy", "en"]
    assert "language" in schema["required"]
    sent = minimise({"given_names": "Siân", "move_date": "2026-11-01"}, ["given_names", "move_date"],
                    protected_address=False, language="cy")
    assert sent["language"] == "cy"
    assert _valid(schema, {**sent, "consent_receipt_id": RECEIPT})
    assert not _valid(schema, {**sent, "language": "fr", "consent_receipt_id": RECEIPT})
    both = _schema("address", told, other)
    assert "language" in both["properties"] and "language" not in both["required"]
    assert "language" not in _schema("address", other)["properties"]
    assert "language" not in minimise({"given_names": "Ada"}, ["given_names"], protected_address=False, language=None)
