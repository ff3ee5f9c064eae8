"""The catalogue of changes a citizen can report, with a JSON Schema for each.

Each change type is a flat set of named answers. The registry names exactly which
of these each department receives; the schemas are published at
``/schemas/<type>.json`` and are what both channels validate against, so a change
is valid by email exactly when it is valid on the web. What a department receives is
a cut of a change, described by its own schema (``tellusonce.domain.event_schemas``).

The schemas' addresses are built on the service's public URL, given as a plain value
(``Settings.base_url``, the CloudEvent ``source``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from jsonschema import Draft202012Validator

from tellusonce.domain.fields import FORMAT_CHECKER, KINDS
from tellusonce.domain.planning import furthest_ahead
from tellusonce.i18n import N_

SCHEMAS_PATH = "/schemas/"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
MOVE_BACK = timedelta(days=5 * 365 + 1)
EARLIEST_BIRTH = date(1900, 1, 1)


def schema_address(base_url: str, name: str) -> str:
    """Where the schema ``name`` (e.g. ``address.json``) is published by the service at ``base_url``."""
    return f"{base_url.rstrip('/')}{SCHEMAS_PATH}{name}"


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    kind: str = "text"
    required: bool = True
    choices: tuple[tuple[str, str], ...] = ()
    hint: str | None = None
    # Which profile attribute fills this answer when the citizen has one.
    profile: str | None = None
    # Whether this answer is part of an address (withheld when the address is protected).
    address: bool = False
    # The answer as a sentence names it, for messages ("Enter the date you moved", "Select
    # why your name changed"; for yes or no, what yes means). None: the label, lower-cased.
    noun: str | None = None
    # The answer taken when none is given; the question shows it chosen, so the citizen sees it.
    default: Any = None


@dataclass(frozen=True)
class ChangeType:
    id: str
    label: str
    description: str
    fields: tuple[Field, ...]
    effective_date: str | None
    about_someone_else: bool = False
    # Pairs of which at least one answer must be given ("Enter a new email address or a new phone number").
    any_of: tuple[tuple[str, ...], ...] = ()
    synonyms: tuple[str, ...] = ()
    _by_name: dict[str, Field] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_name.update({f.name: f for f in self.fields})
        if any(len(group) != 2 for group in self.any_of):
            raise ValueError(f"{self.id}: an any_of group is a pair, asked for as \"Enter X or Y\"")

    def field(self, name: str) -> Field:
        return self._by_name[name]

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def address_fields(self) -> frozenset[str]:
        return frozenset(f.name for f in self.fields if f.address)

    @property
    def event_type(self) -> str:
        return self.follow_up_event_type("")

    def follow_up_event_type(self, word: str) -> str:
        """The type of an event about this kind of change: ``word`` says what became of it
        ("cancelled", "corrected"); empty, the change itself."""
        return f"tellusonce.change.{self.id}{'.' + word if word else ''}.v1"

    @property
    def can_protect_address(self) -> bool:
        """Whether the citizen can ask for the address in this change to be protected."""
        return "protected_address" in self._by_name

    def schema_url(self, base_url: str) -> str:
        """The schema of the change as a citizen submits it."""
        return schema_address(base_url, f"{self.id}.json")

    def event_schema_url(self, base_url: str, word: str = "") -> str:
        """The schema of an event's data: what a department is sent (the ``dataschema``); with
        ``word``, of the event saying what became of the change (``follow_up_event_type``)."""
        return schema_address(base_url, f"events/{self.id}{'.' + word if word else ''}.v1.json")

    def json_schema(self, base_url: str | None = None) -> dict[str, Any]:
        """The change as a citizen submits it; with ``base_url``, as published (with its ``$id``)."""
        properties: dict[str, Any] = {}
        for f in self.fields:
            prop = dict(KINDS[f.kind].schema)
            prop["title"] = f.label
            if f.default is not None:
                prop["default"] = f.default
            if f.hint:
                prop["description"] = f.hint
            if f.choices:
                prop["enum"] = [value for value, _ in f.choices]
            properties[f.name] = prop
        schema: dict[str, Any] = {
            "$schema": JSON_SCHEMA_DIALECT,
            **({"$id": self.schema_url(base_url)} if base_url is not None else {}),
            "title": self.label,
            "description": self.description,
            "type": "object",
            "properties": properties,
            "required": [f.name for f in self.fields if f.required],
            "additionalProperties": False,
        }
        if self.any_of:
            schema["allOf"] = [
                {"anyOf": [{"required": [name]} for name in group]} for group in self.any_of
            ]
        return schema

    def validator(self) -> Draft202012Validator:
        return _VALIDATORS[self.id]


def _identity(*, required_ni: bool = False) -> tuple[Field, ...]:
    return (
        Field("given_names", N_("Given names"), "name", profile="given_names", noun=N_("your given names")),
        Field("family_name", N_("Family name"), "name", profile="family_name", noun=N_("your family name")),
        Field("date_of_birth", N_("Date of birth"), "date", profile="date_of_birth", noun=N_("your date of birth")),
        Field("ni_number", N_("National Insurance number"), "ni_number", required=required_ni, profile="ni_number",
              noun=N_("your National Insurance number")),
    )


def _reporter() -> tuple[Field, ...]:
    return (
        Field("reporter_given_names", N_("Your given names"), "name", profile="given_names"),
        Field("reporter_family_name", N_("Your family name"), "name", profile="family_name"),
        Field("reporter_email", N_("Your email address"), "email", required=False, profile="email"),
        Field("reporter_phone", N_("Your phone number"), "phone", required=False, profile="phone"),
    )


NAME_CHANGE_REASONS = (
    ("marriage", N_("Marriage")),
    ("civil_partnership", N_("Civil partnership")),
    ("divorce", N_("Divorce or dissolution")),
    ("deed_poll", N_("Deed poll")),
    ("other", N_("Another reason")),
)
RELATIONSHIP_TO_DECEASED = (
    ("spouse_or_partner", N_("Husband, wife or civil partner")),
    ("child", N_("Son or daughter")),
    ("parent", N_("Mother or father")),
    ("sibling", N_("Brother or sister")),
    ("other_relative", N_("Another relative")),
    ("executor", N_("Executor or administrator")),
    ("other", N_("Someone else")),
)
RELATIONSHIP_TO_CHILD = (
    ("mother", N_("Mother")),
    ("father", N_("Father")),
    ("parent", N_("Parent")),
    ("guardian", N_("Someone else with parental responsibility")),
)

CHANGE_TYPES: dict[str, ChangeType] = {
    ct.id: ct
    for ct in (
        ChangeType(
            "address",
            N_("Moving home"),
            N_("You have moved, or are about to move, to a new address."),
            (
                *_identity(),
                Field("address_line_1", N_("Address line 1"), address=True, hint=N_("Building and street"),
                      noun=N_("address line 1, typically the building and street")),
                Field("address_line_2", N_("Address line 2"), required=False, address=True),
                Field("town", N_("Town or city"), address=True),
                Field("postcode", N_("Postcode"), "postcode", address=True),
                Field("move_date", N_("Date you moved"), "date", noun=N_("the date you moved")),
                Field("previous_address", N_("Previous address"), required=False, address=True),
                Field("previous_postcode", N_("Previous postcode"), "postcode", required=False, address=True),
                Field("others_moving", N_("Others in your household are moving too"), "bool", required=False,
                      noun=N_("anyone else in your household is moving with you"), default=False),
                Field("protected_address", N_("Keep my new address protected"), "bool", required=False,
                      hint=N_("Only organisations that must have your address will be given it."),
                      noun=N_("you want to keep your new address protected"), default=False),
            ),
            effective_date="move_date",
            synonyms=("address", "moving", "moving home", "moving house", "new address", "new home", "move", "moved"),
        ),
        ChangeType(
            "name",
            N_("Change of name"),
            N_("You have changed your name, for example after marriage or by deed poll."),
            (
                *_identity(),
                Field("new_given_names", N_("New given names"), "name", noun=N_("your new given names")),
                Field("new_family_name", N_("New family name"), "name", noun=N_("your new family name")),
                Field("reason", N_("Reason for the change"), "choice", choices=NAME_CHANGE_REASONS,
                      noun=N_("why your name changed")),
                Field("change_date", N_("Date your name changed"), "date", noun=N_("the date your name changed")),
            ),
            effective_date="change_date",
            synonyms=("name", "change of name", "new name", "name change", "changed my name", "surname"),
        ),
        ChangeType(
            "contact",
            N_("New contact details"),
            N_("You have a new email address or phone number."),
            (
                *_identity(),
                Field("email", N_("Email address"), "email", required=False, noun=N_("a new email address")),
                Field("phone", N_("Phone number"), "phone", required=False, noun=N_("a new phone number")),
            ),
            effective_date=None,
            any_of=(("email", "phone"),),
            synonyms=("contact", "contact details", "new contact details", "new email", "new phone", "phone number", "email address"),
        ),
        ChangeType(
            "death",
            N_("Reporting a death"),
            N_("Someone has died and you are dealing with their affairs."),
            (
                Field("deceased_given_names", N_("Their given names"), "name"),
                Field("deceased_family_name", N_("Their family name"), "name"),
                Field("deceased_date_of_birth", N_("Their date of birth"), "date"),
                Field("date_of_death", N_("Date of death"), "date", noun=N_("the date of death")),
                Field("deceased_ni_number", N_("Their National Insurance number"), "ni_number", required=False),
                Field("deceased_address_line_1", N_("Their last address line 1"), address=True),
                Field("deceased_address_line_2", N_("Their last address line 2"), required=False, address=True),
                Field("deceased_town", N_("Their last town or city"), address=True),
                Field("deceased_postcode", N_("Their last postcode"), "postcode", address=True),
                *_reporter(),
                Field("reporter_relationship", N_("Your relationship to them"), "choice", choices=RELATIONSHIP_TO_DECEASED),
                Field("authority_declared", N_("Confirm you have the authority of the executor or next of kin"), "declaration"),
            ),
            effective_date="date_of_death",
            about_someone_else=True,
            synonyms=("death", "a death", "reporting a death", "bereavement", "died", "passed away"),
        ),
        ChangeType(
            "birth",
            N_("Registering a birth's details"),
            N_("A child has been born and their birth registered."),
            (
                Field("child_given_names", N_("Child's given names"), "name", noun=N_("the child's given names")),
                Field("child_family_name", N_("Child's family name"), "name", noun=N_("the child's family name")),
                Field("child_date_of_birth", N_("Child's date of birth"), "date", noun=N_("the child's date of birth")),
                Field("place_of_birth", N_("Town or city of birth"), required=False),
                Field("parent_1_given_names", N_("First parent's given names"), "name",
                      noun=N_("the first parent's given names")),
                Field("parent_1_family_name", N_("First parent's family name"), "name",
                      noun=N_("the first parent's family name")),
                Field("parent_2_given_names", N_("Second parent's given names"), "name", required=False),
                Field("parent_2_family_name", N_("Second parent's family name"), "name", required=False),
                Field("address_line_1", N_("Child's home address line 1"), address=True,
                      noun=N_("the child's home address line 1")),
                Field("address_line_2", N_("Child's home address line 2"), required=False, address=True),
                Field("town", N_("Child's home town or city"), address=True, noun=N_("the child's home town or city")),
                Field("postcode", N_("Child's home postcode"), "postcode", address=True,
                      noun=N_("the child's home postcode")),
                *_reporter(),
                Field("reporter_relationship", N_("Your relationship to the child"), "choice", choices=RELATIONSHIP_TO_CHILD),
                Field("authority_declared", N_("Confirm you are the child's parent or have parental responsibility"), "declaration"),
            ),
            effective_date="child_date_of_birth",
            about_someone_else=True,
            synonyms=("birth", "a birth", "new baby", "baby", "born", "registering a birth"),
        ),
    )
}

_VALIDATORS = {
    ct.id: Draft202012Validator(ct.json_schema(), format_checker=FORMAT_CHECKER)
    for ct in CHANGE_TYPES.values()
}


class UnknownChangeType(LookupError):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name
        self.known = tuple(CHANGE_TYPES)


def get_change_type(name: str) -> ChangeType:
    try:
        return CHANGE_TYPES[name]
    except KeyError:
        raise UnknownChangeType(name) from None


def date_rules(change_type: ChangeType, data: Mapping[str, Any], today: date) -> dict[str, str]:
    """Rules about dates that depend on today; field -> message."""
    errors: dict[str, str] = {}

    def day(name: str) -> date | None:
        value = data.get(name)
        try:
            return date.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:  # not a date at all: the schema's format check has already said so
            return None

    for f in change_type.fields:
        if f.kind != "date" or (value := day(f.name)) is None:
            continue
        if f.name in ("move_date", "change_date"):
            if value > furthest_ahead(today):
                errors[f.name] = N_("%(label)s must be no more than 3 months in the future")
            elif value < today - MOVE_BACK:
                errors[f.name] = N_("%(label)s must be within the last 5 years")
        elif value > today:
            errors[f.name] = N_("%(label)s must be today or in the past")
        elif value < EARLIEST_BIRTH:
            errors[f.name] = N_("%(label)s must be after 1 January 1900")
    born, died = day("deceased_date_of_birth"), day("date_of_death")
    if born and died and died < born and "date_of_death" not in errors:
        errors["date_of_death"] = N_("Date of death must be the same as or after their date of birth")
    return errors
