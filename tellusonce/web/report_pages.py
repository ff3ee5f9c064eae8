"""The question pages of each change, and the forms that collect their answers.

The pages only collect: every field, label, hint and choice comes from the
change-type catalogue, and whether an answer is acceptable is decided by the
domain (``validate_change``), whose errors are put back on the fields that
caused them. The one thing a form checks itself is whether three date boxes
make a date, which the domain cannot see.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask_babel import get_locale
from flask_babel import gettext as _
from govuk_frontend_wtf.wtforms_widgets import GovCheckboxInput, GovRadioInput
from wtforms import BooleanField, RadioField, SelectChoice, StringField

from tellusonce.domain.changetypes import ChangeType, Field, get_change_type
from tellusonce.domain.fields import display_phone
from tellusonce.domain.reporter import account_answers
from tellusonce.domain.validation import ChangeInvalid
from tellusonce.i18n import N_
from tellusonce.models import Citizen
from tellusonce.web.forms import GovDateField, StripWhitespaceForm
from tellusonce.web.widgets import KeptTextInput


@dataclass(frozen=True)
class Answer:
    """Answers that "check your answers" shows as one row: a name, or an address (one line each)."""

    label: str  # marked with N_
    fields: tuple[str, ...]
    lines: bool = False  # an address: one line per answer; otherwise the answers joined by spaces


@dataclass(frozen=True)
class Page:
    slug: str
    title: str  # marked with N_
    fields: tuple[str, ...]
    hint: str | None = None
    grouped: tuple[Answer, ...] = ()  # answers shown as one row; every other field is a row of its own

    def answers(self, change_type: ChangeType) -> tuple[Answer, ...]:
        """This page's questions as check your answers lists them, in the page's order."""
        rows: list[Answer] = []
        for name in self.fields:
            group = next((g for g in self.grouped if name in g.fields), None)
            if group is None:
                rows.append(Answer(change_type.field(name).label, (name,)))
            elif group.fields[0] == name:
                rows.append(group)
        return tuple(rows)


def _name(label: str, prefix: str = "") -> Answer:
    return Answer(label, (f"{prefix}given_names", f"{prefix}family_name"))


def _address(label: str, *fields: str) -> Answer:
    return Answer(label, fields, lines=True)


def _you() -> Page:
    return Page("your-details", N_("Check your details"), ("given_names", "family_name", "date_of_birth", "ni_number"),
                N_("We have filled in what your account already knows. Organisations use these to find your records."),
                grouped=(_name(N_("Name")),))


def _reporter() -> Page:
    return Page("about-you", N_("Your details"),
                ("reporter_given_names", "reporter_family_name", "reporter_email", "reporter_phone"),
                N_("Organisations may need to contact you about this."), grouped=(_name(N_("Your name"), "reporter_"),))


_HOME = ("address_line_1", "address_line_2", "town", "postcode")


PAGES: dict[str, tuple[Page, ...]] = {
    "address": (
        _you(),
        Page("new-address", N_("What is your new address?"), _HOME, grouped=(_address(N_("New address"), *_HOME),)),
        Page("move-date", N_("When did you move?"), ("move_date",),
             N_("If you have not moved yet, give the date you will move. For example, 27 3 2026")),
        Page("previous-address", N_("What was your previous address?"), ("previous_address", "previous_postcode"),
             N_("This helps organisations find your records. You can leave it out."),
             grouped=(_address(N_("Previous address"), "previous_address", "previous_postcode"),)),
        Page("household", N_("Is anyone else in your household moving with you?"), ("others_moving",)),
        Page("protect-address", N_("Do you want to keep your new address protected?"), ("protected_address",),
             N_("Choose yes if you are at risk, for example from domestic abuse. Organisations that do not need "
                "your address will be told it is protected and will not be given it.")),
    ),
    "name": (
        _you(),
        Page("new-name", N_("What is your new name?"), ("new_given_names", "new_family_name"),
             grouped=(_name(N_("New name"), "new_"),)),
        Page("reason", N_("Why did your name change?"), ("reason",)),
        Page("change-date", N_("When did your name change?"), ("change_date",), N_("For example, 27 3 2026")),
    ),
    "contact": (
        _you(),
        Page("new-contact", N_("What are your new contact details?"), ("email", "phone"),
             N_("Give at least one. Leave out anything that has not changed.")),
    ),
    "death": (
        Page("person", N_("Who has died?"),
             ("deceased_given_names", "deceased_family_name", "deceased_date_of_birth", "deceased_ni_number"),
             grouped=(_name(N_("Their name"), "deceased_"),)),
        Page("date-of-death", N_("When did they die?"), ("date_of_death",), N_("For example, 27 3 2026")),
        Page("their-address", N_("What was their last address?"), tuple(f"deceased_{n}" for n in _HOME),
             grouped=(_address(N_("Their last address"), *(f"deceased_{n}" for n in _HOME)),)),
        _reporter(),
        Page("relationship", N_("What was your relationship to them?"), ("reporter_relationship",)),
    ),
    "birth": (
        Page("child", N_("About the child"),
             ("child_given_names", "child_family_name", "child_date_of_birth", "place_of_birth"),
             grouped=(_name(N_("Child's name"), "child_"),)),
        Page("parents", N_("The child's parents"),
             ("parent_1_given_names", "parent_1_family_name", "parent_2_given_names", "parent_2_family_name"),
             N_("As written on the birth certificate. Leave the second parent out if there is none on it."),
             grouped=(_name(N_("First parent"), "parent_1_"), _name(N_("Second parent"), "parent_2_"))),
        Page("child-address", N_("Where does the child live?"), _HOME,
             grouped=(_address(N_("Child's home address"), *_HOME),)),
        _reporter(),
        Page("relationship", N_("What is your relationship to the child?"), ("reporter_relationship",)),
    ),
}

# Answers the citizen gives on "check your answers" rather than on a question page.
DECLARATION = "authority_declared"

# How each kind of answer is typed: width, keyboard and what the browser may fill in.
_INPUT: dict[str, dict[str, Any]] = {
    "name": {"classes": "govuk-!-width-two-thirds", "attributes": {"spellcheck": "false"}},
    "postcode": {"classes": "govuk-input--width-10", "attributes": {"autocomplete": "postal-code"}},
    "ni_number": {"classes": "govuk-input--width-10", "attributes": {"spellcheck": "false"}},
    "phone": {"classes": "govuk-input--width-20", "type": "tel", "attributes": {"autocomplete": "tel"}},
    "email": {"classes": "govuk-!-width-two-thirds", "type": "email",
              "attributes": {"autocomplete": "email", "spellcheck": "false"}},
    "text": {"classes": "govuk-!-width-two-thirds"},
}
_AUTOCOMPLETE = {
    "given_names": "given-name", "family_name": "family-name", "address_line_1": "address-line1",
    "address_line_2": "address-line2", "town": "address-level2", "reporter_given_names": "given-name",
    "reporter_family_name": "family-name", "reporter_email": "email", "reporter_phone": "tel",
    "new_given_names": "given-name", "new_family_name": "family-name",
}


def pages_for(change_type: str) -> tuple[Page, ...]:
    return PAGES[change_type]


def find_page(change_type: str, slug: str) -> Page | None:
    return next((p for p in PAGES[change_type] if p.slug == slug), None)


def page_of_field(change_type: str, name: str) -> Page | None:
    return next((p for p in PAGES[change_type] if name in p.fields), None)


def next_page(change_type: str, page: Page) -> Page | None:
    pages = PAGES[change_type]
    index = pages.index(page)
    return pages[index + 1] if index + 1 < len(pages) else None


def previous_page(change_type: str, page: Page) -> Page | None:
    pages = PAGES[change_type]
    index = pages.index(page)
    return pages[index - 1] if index > 0 else None


def _yes_no() -> list[SelectChoice]:
    return [SelectChoice("yes", _("Yes")), SelectChoice("no", _("No"))]


def _form_field(f: Field) -> Any:
    label = _(f.label)
    hint = _(f.hint) if f.hint else ""
    if f.kind == "date":
        return GovDateField(label, description=hint)
    if f.kind == "bool":
        return RadioField(label, choices=_yes_no(), widget=GovRadioInput(), validate_choice=False, description=hint)
    if f.kind == "choice":
        return RadioField(label, choices=[SelectChoice(v, _(t)) for v, t in f.choices], widget=GovRadioInput(),
                          validate_choice=False, description=hint)
    if f.kind == "declaration":
        return BooleanField(label, widget=GovCheckboxInput(), description=hint)
    optional = "" if f.required else " " + _("(optional)")
    return StringField(label + optional, widget=KeptTextInput(), description=hint)


def page_form(change_type: ChangeType, names: tuple[str, ...], *, formdata: Any = None,
              data: Mapping[str, Any] | None = None) -> StripWhitespaceForm:
    """A form for these catalogue fields, filled from ``formdata`` (a POST) or ``data`` (answers so far)."""
    return _form_class(change_type, names)(formdata=formdata, data=_form_values(change_type, names, data or {}))


# A page's form class, made once a process for each change type, page and language: its labels,
# hints and choices are translated when it is made. Pages × languages: a few dozen.
_FORM_CLASSES: dict[tuple[str, tuple[str, ...], str], tuple[ChangeType, type[StripWhitespaceForm]]] = {}


def _form_class(change_type: ChangeType, names: tuple[str, ...]) -> type[StripWhitespaceForm]:
    key = (change_type.id, names, str(get_locale()))
    made = _FORM_CLASSES.get(key)
    if made is not None and made[0] is change_type:
        return made[1]

    class PageForm(StripWhitespaceForm):
        pass

    for name in names:
        setattr(PageForm, name, _form_field(change_type.field(name)))
    _FORM_CLASSES[key] = (change_type, PageForm)
    return PageForm


def _form_values(change_type: ChangeType, names: tuple[str, ...], answers: Mapping[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in names:
        value = answers.get(name)
        kind = change_type.field(name).kind
        if value is None:
            continue
        if kind == "date" and isinstance(value, str):
            try:
                value = date.fromisoformat(value)
            except ValueError:
                continue
        elif kind == "bool" and isinstance(value, bool):
            value = "yes" if value else "no"
        values[name] = value
    return values


def render_params(change_type: ChangeType, name: str, *, heading: bool) -> dict[str, Any]:
    """Extra govuk-frontend parameters for one field; a page with one question uses it as the heading."""
    f = change_type.field(name)
    params: dict[str, Any] = {}
    if f.kind in ("date", "bool", "choice"):
        legend: dict[str, Any] = {"text": _(f.label)}
        if heading:
            legend = {"isPageHeading": True, "classes": "govuk-fieldset__legend--l"}
        params["fieldset"] = {"legend": legend}
        if f.kind == "bool":
            params["classes"] = "govuk-radios--inline"
        return params
    if f.kind == "declaration":
        return params
    params = {k: (dict(v) if isinstance(v, dict) else v) for k, v in _INPUT.get(f.kind, _INPUT["text"]).items()}
    if name in _AUTOCOMPLETE:
        params.setdefault("attributes", {})["autocomplete"] = _AUTOCOMPLETE[name]
    return params


def page_params(change_type: ChangeType, page: Page) -> tuple[bool, dict[str, dict[str, Any]]]:
    """Whether ``page`` is one question that is its own heading, and each field's govuk-frontend
    parameters (the page's hint on that one question)."""
    single = len(page.fields) == 1 and change_type.field(page.fields[0]).kind in ("date", "bool", "choice")
    params = {name: render_params(change_type, name, heading=single) for name in page.fields}
    if single and page.hint:
        params[page.fields[0]]["hint"] = {"text": _(page.hint)}
    return single, params


def collected(change_type: ChangeType, form: StripWhitespaceForm, names: tuple[str, ...]) -> dict[str, Any]:
    """The answers as the domain takes them: text as typed, dates as ISO, yes/no as booleans."""
    answers: dict[str, Any] = {}
    for name in names:
        f = change_type.field(name)
        value = form[name].data
        if f.kind == "date":
            answers[name] = value.isoformat() if isinstance(value, date) else None
        elif f.kind == "bool":
            answers[name] = {"yes": True, "no": False}.get(value, value or None)
        elif f.kind == "declaration":
            answers[name] = True if value else None
        else:
            answers[name] = value if value else None
    return answers


def prefill(change_type: ChangeType, citizen: Citizen, answers: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """Answers so far, with the answer's default (shown chosen) or what the account already knows
    (the domain's one rule for every channel: ``domain.reporter.account_answers``) for questions
    not yet answered."""
    values = dict(answers)
    known = account_answers(citizen, change_type, answers)
    for name in names:
        if name in values:
            continue
        f = change_type.field(name)
        if f.default is not None:  # shown chosen: what is sent when the citizen leaves it
            values[name] = f.default
        elif name in known:
            values[name] = display_phone(known[name]) if f.kind == "phone" else known[name]
    return values


def put_errors(form: StripWhitespaceForm, error: ChangeInvalid, names: tuple[str, ...]) -> bool:
    """Show the domain's errors for this page's fields on those fields; True if there were any."""
    shown = False
    for field_error in error.errors:
        if field_error.field in names and not form[field_error.field].errors:
            form[field_error.field].errors = [field_error.render(_)]
            shown = True
    return shown


def field_labels(change_type_id: str, names: tuple[str, ...] | list[str]) -> list[str]:
    ct = get_change_type(change_type_id)
    return [_(ct.field(n).label) for n in names if n in ct.field_names]
