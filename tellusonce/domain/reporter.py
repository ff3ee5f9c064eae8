"""The reporter's own details: what their account fills in, and what a sent change updates.

One rule for every channel. A change about the reporter (a move, a new name, new
contact details) starts from the details on their account: their own name, date
of birth and National Insurance number, and for a move the address on the
account as the address they moved from. When such a change is sent and the
citizen has said yes (the default, asked on "check your answers" and on the page
that confirms an emailed change), the account takes the new details in the same
transaction, so the next change starts from where they live now and the name
they use now.

The account's email address is where it signs in and where every confirmation
goes: a report never changes it (that needs the new address to be verified).

These are rules over the account's details as plain values (``Account``, which a
``Citizen`` is); the intake (``tellusonce.application.intake``) writes what they decide.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any, Protocol

from babel.lists import format_list

from tellusonce.domain.changetypes import ChangeType, get_change_type
from tellusonce.domain.fields import normalise_postcode
from tellusonce.i18n import N_

PREVIOUS_ADDRESS = ("previous_address", "previous_postcode")
ACCOUNT_ADDRESS = ("address_line_1", "address_line_2", "town", "postcode")
# What each change type's answers put on the account: account attribute -> answer.
_UPDATES: dict[str, dict[str, str]] = {
    "address": {name: name for name in ACCOUNT_ADDRESS},
    "name": {"given_names": "new_given_names", "family_name": "new_family_name"},
    "contact": {"phone": "phone"},
}
# The reporter's own details, as they may correct them on any change about themselves.
_OWN = ("given_names", "family_name", "date_of_birth", "ni_number")
# How a person names each account detail ("we will change your address").
DETAIL_NAMES = {
    "given_names": N_("name"), "family_name": N_("name"), "date_of_birth": N_("date of birth"),
    "ni_number": N_("National Insurance number"), "address_line_1": N_("address"), "address_line_2": N_("address"),
    "town": N_("address"), "postcode": N_("address"), "phone": N_("phone number"),
}


class Account(Protocol):
    """The reporter's details on their account, as these rules read them."""

    @property
    def given_names(self) -> str | None: ...
    @property
    def family_name(self) -> str | None: ...
    @property
    def date_of_birth(self) -> date | None: ...
    @property
    def ni_number(self) -> str | None: ...
    @property
    def address_line_1(self) -> str | None: ...
    @property
    def address_line_2(self) -> str | None: ...
    @property
    def town(self) -> str | None: ...
    @property
    def postcode(self) -> str | None: ...
    @property
    def phone(self) -> str | None: ...


def updates_account(change_type: ChangeType) -> bool:
    """Whether sending this kind of change may update the reporter's account (not a death or a birth)."""
    return not change_type.about_someone_else


def account_answers(account: Account, change_type: ChangeType, answers: Mapping[str, Any]) -> dict[str, Any]:
    """What the account knows for this change's answers (only what it has).

    The reporter's own details come from their profile; for a move, the address on
    the account is where they moved from, unless it is the new address already.
    """
    known: dict[str, Any] = {}
    for f in change_type.fields:
        if f.profile:
            value = getattr(account, f.profile, None)
            if value not in (None, ""):
                known[f.name] = value.isoformat() if isinstance(value, date) else value
    if change_type.id == "address" and not _is_account_address(account, answers):
        lines = [p for p in (account.address_line_1, account.address_line_2, account.town) if p]
        if lines:
            known["previous_address"] = ", ".join(lines)
        if account.postcode:
            known["previous_postcode"] = account.postcode
    return known


def with_account(account: Account, change_type_id: str, answers: Mapping[str, Any]) -> dict[str, Any]:
    """The answers, with what the account knows where the channel did not give it.

    The reporter's own details fill any that are empty. The previous address fills
    in only when neither of its answers was given at all: a citizen who cleared it
    on the web (both answered empty) has left it out.
    """
    change_type = get_change_type(change_type_id)
    filled = dict(answers)
    previous_given = any(name in answers for name in PREVIOUS_ADDRESS)
    for name, value in account_answers(account, change_type, answers).items():
        if name in PREVIOUS_ADDRESS:
            if not previous_given:
                filled[name] = value
        elif filled.get(name) in (None, ""):
            filled[name] = value
    return filled


def account_updates(account: Account, change_type_id: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """The account details a sent change would set (attribute -> new value), only those that differ."""
    change_type = get_change_type(change_type_id)
    if not updates_account(change_type):
        return {}
    wanted: dict[str, Any] = {}
    for attribute in _OWN:
        if data.get(attribute) not in (None, ""):
            wanted[attribute] = data[attribute]
    mapping = _UPDATES.get(change_type.id, {})
    if change_type.id == "address":  # a new address replaces the whole of the old one
        wanted.update({attribute: data.get(answer) for attribute, answer in mapping.items()})
    else:
        wanted.update({attribute: data[answer] for attribute, answer in mapping.items()
                       if data.get(answer) not in (None, "")})
    if isinstance(wanted.get("date_of_birth"), str):
        wanted["date_of_birth"] = date.fromisoformat(wanted["date_of_birth"])
    return {attribute: value for attribute, value in wanted.items() if getattr(account, attribute) != value}


def detail_names(updates: Mapping[str, Any]) -> list[str]:
    """The details ``updates`` would change, as a person names them, each once, in account order (marked N_)."""
    return list(dict.fromkeys(DETAIL_NAMES[attribute] for attribute in DETAIL_NAMES if attribute in updates))


def in_words(names: list[str], language: str) -> str:
    """"name, date of birth and address": British English lists have no comma before "and"."""
    return format_list(names, locale="en_GB" if language == "en" else language)


def _is_account_address(account: Account, answers: Mapping[str, Any]) -> bool:
    """Whether the new address given is the one on the account already (its first line and postcode)."""
    line, postcode = answers.get("address_line_1"), answers.get("postcode")
    if not (isinstance(line, str) and isinstance(postcode, str) and account.address_line_1 and account.postcode):
        return False
    same_line = " ".join(line.split()).casefold() == " ".join(account.address_line_1.split()).casefold()
    return same_line and normalise_postcode(postcode) == normalise_postcode(account.postcode)
