"""The kinds of answer a change is made of, and how each is checked and tidied.

Formats are registered on a jsonschema ``FormatChecker`` so that the published
JSON Schemas and the service validate the same way; the messages say what to do,
in the GOV.UK voice.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from jsonschema import FormatChecker

from tellusonce.i18n import N_

# ASCII digits only: ``\d`` matches every script's digits ("LS١ ١AA"), and no postcode is written in them.
POSTCODE = re.compile(
    r"^(GIR ?0AA|[A-PR-UWYZ]([0-9][0-9A-HJKPSTUW]?|[A-HK-Y][0-9][0-9ABEHMNPRV-Y]?) ?[0-9][ABD-HJLNP-UW-Z]{2})$",
    re.ASCII,
)
# The format the hint and the error show ("QQ 12 34 56 C": two letters, six digits, A to D),
# in ASCII only; spaces, hyphens and case as the citizen types them. Of HMRC's allocation rules
# only the pairs never issued are refused: its letter rules would refuse "QQ", the prefix of the
# example GOV.UK and HMRC show (so that no real number is printed), which is the example we show.
NI_NUMBER = re.compile(r"^(?!BG|GB|KN|NK|NT|TN|ZZ)[A-Z]{2}[0-9]{6}[A-D]$", re.ASCII)
NAME_PUNCTUATION = frozenset(" -'’.")


def normalise_postcode(value: str) -> str:
    """'ls1 1aa' -> 'LS1 1AA'; only ASCII letters are upper-cased ('ſ' would become 'S')."""
    compact = "".join(c.upper() if c.isascii() else c for c in re.sub(r"\s+", "", value))
    return f"{compact[:-3]} {compact[-3:]}" if len(compact) > 3 else compact


def is_postcode(value: str) -> bool:
    return bool(POSTCODE.match(normalise_postcode(value)))


def normalise_ni_number(value: str) -> str:
    """'qq 12 34 56 c' -> 'QQ123456C'; only ASCII letters are upper-cased (nothing else becomes a letter)."""
    compact = re.sub(r"[\s-]+", "", value)
    return "".join(c.upper() if c.isascii() else c for c in compact)


def is_ni_number(value: str) -> bool:
    return bool(NI_NUMBER.fullmatch(normalise_ni_number(value)))


def normalise_phone(value: str) -> str:
    try:
        number = phonenumbers.parse(value, "GB")
    except phonenumbers.NumberParseException:
        return value.strip()
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def display_phone(value: str) -> str:
    """A number as people write it: UK numbers in the national format ("07911 123456"), others in
    the international one ("+33 1 23 45 67 89"). Kept in E.164 (``normalise_phone``) and sent so."""
    try:
        number = phonenumbers.parse(value, "GB")
    except phonenumbers.NumberParseException:
        return value
    if not phonenumbers.is_valid_number(number):
        return value
    # +44 includes the Channel Islands and the Isle of Man, dialled from the UK as national numbers.
    uk = number.country_code == 44
    style = phonenumbers.PhoneNumberFormat.NATIONAL if uk else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    return phonenumbers.format_number(number, style)


def is_phone(value: str) -> bool:
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(value, "GB"))
    except phonenumbers.NumberParseException:
        return False


def normalise_email(value: str) -> str:
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized
    except EmailNotValidError:
        return value.strip()


def canonical_email(value: str) -> str:
    """The one form an address is kept and looked up in: "Ada@Example.com" and "ada@example.com" are one account."""
    return normalise_email(value).lower()


def is_email(value: str) -> bool:
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


def is_name(value: str) -> bool:
    """Letters of any script, with the marks, spaces and punctuation names use."""
    if not value or not any(unicodedata.category(c).startswith("L") for c in value):
        return False
    return all(unicodedata.category(c)[0] in "LM" or c in NAME_PUNCTUATION for c in value)


def is_iso_date(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except (TypeError, ValueError):
        return False
    return len(value) == 10


FORMAT_CHECKER = FormatChecker(formats=())
for _name, _check in {
    "date": is_iso_date,
    "email": is_email,
    "uk-postcode": is_postcode,
    "uk-ni-number": is_ni_number,
    "phone": is_phone,
    "person-name": is_name,
}.items():
    # jsonschema types a check as taking any value; every formatted field's schema says type string.
    FORMAT_CHECKER.checks(_name)(_check)  # type: ignore[type-var]  # a check of str, as above


@dataclass(frozen=True)
class Kind:
    """How one kind of answer is described in JSON Schema, tidied and explained.

    Messages follow the GOV.UK Design System's guidance for the component that asks
    for the answer: ``%(label)s`` is the field's label starting a sentence ("Date you
    moved must be a real date"), ``%(noun)s`` the answer named inside one ("Enter the
    date you moved", "Select why your name changed").
    """

    schema: dict[str, object]
    invalid: str  # shown when the format is wrong
    normalise: object = None
    missing: str = N_("Enter %(noun)s")  # shown when a required answer is left out


TOO_LONG = N_("%(label)s must be %(limit)s characters or less")

KINDS: dict[str, Kind] = {
    "text": Kind({"type": "string", "minLength": 1, "maxLength": 200}, N_("%(label)s must be 200 characters or less")),
    "name": Kind(
        {"type": "string", "minLength": 1, "maxLength": 100, "format": "person-name"},
        N_("%(label)s must only include letters, spaces, hyphens, apostrophes and full stops"),
    ),
    "date": Kind({"type": "string", "format": "date"}, N_("%(label)s must be a real date")),
    "postcode": Kind(
        {"type": "string", "maxLength": 10, "format": "uk-postcode"},
        N_("Enter a real postcode, like LS1 1AA"),
        normalise_postcode,
    ),
    "ni_number": Kind(
        {"type": "string", "maxLength": 13, "format": "uk-ni-number"},
        N_("Enter a National Insurance number in the correct format, like QQ 12 34 56 C"),
        normalise_ni_number,
    ),
    "phone": Kind(
        {"type": "string", "maxLength": 32, "format": "phone"},
        # Examples this check accepts (the GOV.UK pattern's 01632 and 07700 900 drama numbers are
        # refused by phonenumbers, and an example must never be refused: see the National Insurance one).
        N_("Enter a phone number, like 0113 496 0000, 07911 123456 or +44 808 157 0192"),
        normalise_phone,
    ),
    "email": Kind(
        {"type": "string", "maxLength": 320, "format": "email"},
        N_("Enter an email address in the correct format, like name@example.com"),
        normalise_email,
    ),
    # Yes or no: the noun is what "yes" means ("Select yes if anyone else ... is moving with you").
    "bool": Kind({"type": "boolean"}, N_("Select yes if %(noun)s"), missing=N_("Select yes if %(noun)s")),
    "choice": Kind({"type": "string"}, N_("Select %(noun)s"), missing=N_("Select %(noun)s")),
    # A declaration's label is its own message ("Confirm you have the authority ...").
    "declaration": Kind({"type": "boolean", "const": True}, N_("%(label)s"), missing=N_("%(label)s")),
}
