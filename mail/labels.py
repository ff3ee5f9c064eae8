"""The words people use for each answer, mapped onto the change types' field names.

Every field is known by its name ("address_line_1" -> "address line 1") and its
label on the web form in every language the catalogues hold ("Date you moved",
"Dyddiad symud"); the tables below add what people actually write, in English
("Date of move", "Surname", "DOB", "New address") and in Welsh (``WELSH``: "Enw",
"Hen gyfeiriad", "Bu farw ar"). Each change is known by its synonyms, its label in
every language, and the Welsh names in ``CHANGE_NAMES`` ("symud tŷ", "newid enw"). A target
starting with ``@`` is an answer that fills several fields: a whole name
("Ada Lovelace") or a whole address ("5 Park Road, Leeds, LS2 9JT").
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache, lru_cache

from tellusonce.domain.changetypes import CHANGE_TYPES, ChangeType
from tellusonce.i18n import LANGUAGES, translations_for

CHANGE = "#change"
TELL = "#tell"

# Labels that mean the same in every change type.
GLOBAL = {
    CHANGE: ("change", "change type", "type of change", "type", "reporting", "i am reporting", "what has changed",
             "what changed", "newid", "math o newid"),
    TELL: ("tell", "who to tell", "tell these", "please tell", "organisations", "organizations", "organisations to tell",
           "send to", "notify", "departments", "recipients", "share with", "dweud wrth", "rhowch wybod i",
           "sefydliadau", "anfon at"),
}

# What people call each change in Welsh, besides its Welsh label on the web form.
CHANGE_NAMES: dict[str, tuple[str, ...]] = {
    "address": ("symud", "symud tŷ", "symud cartref", "newid cyfeiriad", "cyfeiriad newydd", "cartref newydd",
                "wedi symud"),
    "name": ("newid enw", "newid fy enw", "enw newydd", "newid cyfenw", "wedi newid fy enw"),
    "contact": ("manylion cyswllt", "manylion cyswllt newydd", "e-bost newydd", "rhif ffôn newydd", "ffôn newydd"),
    "death": ("marwolaeth", "rhoi gwybod am farwolaeth", "profedigaeth", "bu farw"),
    "birth": ("genedigaeth", "babi newydd", "babi", "cofrestru genedigaeth", "cofrestru babi"),
}

_NAME = ("name", "full name", "current name")
_DOB = ("dob", "d o b", "birthday", "born", "birth date", "date born")
_NI = ("ni", "ni number", "ni no", "nino", "national insurance", "national insurance no")
_GIVEN = ("first name", "first names", "forename", "forenames", "given name", "christian name", "christian names")
_FAMILY = ("surname", "last name", "family name")
_LINE_1 = ("line 1", "first line", "first line of address", "street", "house", "house and street", "building and street")
_LINE_2 = ("line 2", "second line")
_TOWN = ("town", "city", "town or city")
_POSTCODE = ("postcode", "post code", "postal code")
_REPORTER = {
    "@reporter_name": ("your name", "reported by", "your full name"),
    "reporter_given_names": ("your first name", "your first names", "your forename", "your forenames",
                             "your given name"),
    "reporter_family_name": ("your surname", "your last name"),
    "reporter_email": ("your email", "your email address", "email", "email address", "e mail"),
    "reporter_phone": ("your phone", "your phone number", "your telephone", "phone", "telephone", "mobile", "tel"),
    "authority_declared": ("authority", "declaration", "i have the authority", "i confirm", "confirm",
                           "i have parental responsibility", "parental responsibility"),
}

SYNONYMS: dict[str, dict[str, tuple[str, ...]]] = {
    "address": {
        "@name": _NAME,
        "given_names": _GIVEN,
        "family_name": _FAMILY,
        "date_of_birth": _DOB,
        "ni_number": _NI,
        "@address": ("address", "new address", "new home", "new home address", "home address", "moving to", "moved to",
                     "cyfeiriad newydd"),
        "address_line_1": _LINE_1 + ("new street",),
        "address_line_2": _LINE_2,
        "town": _TOWN + ("new town",),
        "postcode": _POSTCODE + ("new postcode", "new post code", "cod post"),
        "move_date": ("date of move", "moved", "move date", "moving date", "date moved", "date i moved", "moved on", "moving on",
                      "moving in", "move in date", "date of moving", "when", "date", "dyddiad symud"),
        "@previous_address": ("previous address", "old address", "moving from", "moved from", "former address",
                              "last address"),
        "previous_postcode": ("old postcode", "previous post code", "old post code"),
        "others_moving": ("others moving", "others", "household", "whole household", "others in my household",
                          "family moving too", "others moving too"),
        "protected_address": ("protected", "protected address", "protect my address", "keep my address protected",
                              "keep address protected", "keep my new address private"),
    },
    "name": {
        "@name": ("old name", "previous name", "former name", "name before", "name") + _NAME[1:],
        "given_names": _GIVEN + ("old first name", "old first names", "previous first names", "old forenames"),
        "family_name": _FAMILY + ("old surname", "previous surname", "former surname", "maiden name",
                                  "old last name", "old family name"),
        "date_of_birth": _DOB,
        "ni_number": _NI,
        "@new_name": ("new name", "name now", "new full name", "enw newydd"),
        "new_given_names": ("new first name", "new first names", "new forename", "new forenames", "new given name"),
        "new_family_name": ("new surname", "new last name"),
        "reason": ("reason", "why", "reason for change", "because"),
        "change_date": ("date of change", "date changed", "date of name change", "change date", "date name changed",
                        "when", "date", "date of marriage", "married on", "wedding date"),
    },
    "contact": {
        "@name": _NAME,
        "given_names": _GIVEN,
        "family_name": _FAMILY,
        "date_of_birth": _DOB,
        "ni_number": _NI,
        "email": ("e mail", "new email", "email address", "new email address", "new e mail"),
        "phone": ("telephone", "mobile", "phone number", "new phone", "new phone number", "mobile number",
                  "new mobile", "new mobile number", "tel", "telephone number"),
    },
    "death": {
        "@deceased_name": ("name", "their name", "full name", "their full name", "name of the person who died",
                           "deceased", "deceased name", "name of deceased", "who died", "person who died"),
        "deceased_given_names": ("their first names", "their first name", "their forenames", "deceased first names",
                                 "deceased given names"),
        "deceased_family_name": ("their surname", "their last name", "deceased surname", "deceased family name"),
        "deceased_date_of_birth": _DOB + ("date of birth", "their dob", "deceased date of birth"),
        "date_of_death": ("died on", "died", "date died", "when they died", "date", "passed away", "passed away on",
                          "death date", "date of passing"),
        "deceased_ni_number": _NI + ("national insurance number", "their ni number", "their ni"),
        "@deceased_address": ("their address", "address", "last address", "their last address", "home address",
                              "their home address"),
        "deceased_address_line_1": _LINE_1 + ("address line 1",),
        "deceased_address_line_2": _LINE_2 + ("address line 2",),
        "deceased_town": _TOWN + ("their town",),
        "deceased_postcode": _POSTCODE + ("their postcode",),
        **_REPORTER,
        "reporter_relationship": ("relationship", "your relationship", "relationship to them",
                                  "relationship to the deceased", "i am their", "i am"),
    },
    "birth": {
        "@child_name": ("child", "childs name", "baby", "babys name", "name", "child name", "name of child",
                        "childs full name"),
        "child_given_names": ("childs first names", "childs first name", "babys first names"),
        "child_family_name": ("childs surname", "babys surname", "childs last name"),
        "child_date_of_birth": _DOB + ("date of birth", "born on", "babys date of birth", "date"),
        "place_of_birth": ("born in", "place of birth", "town of birth", "where born", "birthplace"),
        "@parent_1_name": ("first parent", "parent 1", "parent", "mother", "mum", "mothers name", "first parents name",
                           "parent 1 name"),
        "@parent_2_name": ("second parent", "parent 2", "father", "dad", "fathers name", "second parents name",
                           "parent 2 name"),
        "@address": ("address", "home address", "childs address", "childs home address", "their address"),
        "address_line_1": _LINE_1 + ("address line 1",),
        "address_line_2": _LINE_2 + ("address line 2",),
        "town": _TOWN,
        "postcode": _POSTCODE,
        **_REPORTER,
        "reporter_relationship": ("relationship", "your relationship", "relationship to the child", "i am the",
                                  "i am"),
    },
}

_CY_NAME = ("enw", "enw llawn", "enw presennol", "fy enw")
_CY_LINE_1 = ("llinell 1", "llinell gyntaf", "stryd", "tŷ a stryd")
_CY_LINE_2 = ("llinell 2", "ail linell")
_CY_TOWN = ("tref", "dinas")
_CY_NI = ("yswiriant gwladol", "rhif yswiriant gwladol", "rhif yg")
_CY_REPORTER = {
    "@reporter_name": ("eich enw", "eich enw llawn", "rhoddwyd gwybod gan"),
    "reporter_email": ("eich e-bost", "e-bost", "cyfeiriad e-bost"),
    "reporter_phone": ("eich ffôn", "ffôn", "rhif ffôn", "ffôn symudol"),
    "authority_declared": ("awdurdod", "datganiad", "cadarnhewch", "rwy’n cadarnhau", "cyfrifoldeb rhiant",
                           "cadarnhewch fod gennych chi awdurdod", "mae gen i awdurdod"),
}

# What people write in Welsh, beyond the Welsh of the form's labels (which come from the catalogue).
WELSH: dict[str, dict[str, tuple[str, ...]]] = {
    "address": {
        "@name": _CY_NAME,
        "ni_number": _CY_NI,
        "@address": ("cyfeiriad", "cartref newydd", "symud i", "wedi symud i", "fy nghyfeiriad newydd",
                     "cyfeiriad cartref"),
        "address_line_1": _CY_LINE_1,
        "address_line_2": _CY_LINE_2,
        "town": _CY_TOWN + ("tref newydd",),
        "postcode": ("cod post newydd",),
        "move_date": ("dyddiad", "pryd", "symud ar", "wedi symud ar", "dyddiad y symud", "dyddiad symud i mewn"),
        "@previous_address": ("hen gyfeiriad", "symud o", "wedi symud o", "cyfeiriad diwethaf", "fy hen gyfeiriad"),
        "previous_postcode": ("hen god post",),
        "others_moving": ("eraill yn symud", "eraill", "y teulu cyfan", "eraill yn fy nghartref", "aelwyd"),
        "protected_address": ("diogelu", "cyfeiriad wedi’i ddiogelu", "diogelu fy nghyfeiriad",
                              "cadw fy nghyfeiriad yn breifat"),
    },
    "name": {
        "@name": ("hen enw", "enw blaenorol", "enw cyn y newid", "fy hen enw") + _CY_NAME,
        "ni_number": _CY_NI,
        "@new_name": ("fy enw newydd", "enw nawr"),
        "family_name": ("hen gyfenw", "cyfenw blaenorol", "cyfenw cyn priodi"),
        "reason": ("rheswm", "pam", "rheswm dros newid"),
        "change_date": ("dyddiad y newid", "dyddiad newid", "dyddiad newid enw", "dyddiad", "pryd", "dyddiad priodi",
                        "dyddiad y briodas", "wedi priodi ar"),
    },
    "contact": {
        "@name": _CY_NAME,
        "ni_number": _CY_NI,
        "email": ("e-bost", "e-bost newydd", "cyfeiriad e-bost newydd", "fy e-bost newydd"),
        "phone": ("ffôn", "rhif ffôn newydd", "ffôn newydd", "ffôn symudol", "rhif ffôn symudol", "fy rhif ffôn newydd"),
    },
    "death": {
        "@deceased_name": ("enw", "eu henw", "eu henw llawn", "enw’r person a fu farw", "enw’r ymadawedig",
                           "yr ymadawedig", "pwy fu farw", "y person a fu farw"),
        "deceased_date_of_birth": ("dyddiad geni",),
        "date_of_death": ("bu farw ar", "dyddiad", "dyddiad y farwolaeth", "dyddiad marwolaeth", "pryd bu farw"),
        "deceased_ni_number": _CY_NI + ("eu rhif yg",),
        "@deceased_address": ("eu cyfeiriad", "cyfeiriad", "eu cyfeiriad olaf", "cyfeiriad olaf", "eu cyfeiriad cartref"),
        "deceased_address_line_1": _CY_LINE_1,
        "deceased_address_line_2": _CY_LINE_2,
        "deceased_town": _CY_TOWN + ("eu tref",),
        "deceased_postcode": ("cod post", "eu cod post"),
        **_CY_REPORTER,
        "reporter_relationship": ("perthynas", "eich perthynas", "perthynas â nhw", "perthynas i’r ymadawedig"),
    },
    "birth": {
        "@child_name": ("plentyn", "enw’r plentyn", "babi", "enw’r babi", "enw", "enw llawn y plentyn"),
        "child_date_of_birth": ("dyddiad geni", "ganwyd ar", "dyddiad", "dyddiad geni’r babi"),
        "place_of_birth": ("man geni", "ganwyd yn", "tref geni"),
        "@parent_1_name": ("rhiant cyntaf", "rhiant 1", "rhiant", "mam", "enw’r fam", "enw’r rhiant cyntaf"),
        "@parent_2_name": ("ail riant", "rhiant 2", "tad", "enw’r tad", "enw’r ail riant"),
        "@address": ("cyfeiriad", "cyfeiriad cartref", "cyfeiriad y plentyn", "cyfeiriad cartref y plentyn"),
        "address_line_1": _CY_LINE_1,
        "address_line_2": _CY_LINE_2,
        "town": _CY_TOWN,
        **_CY_REPORTER,
        "reporter_relationship": ("perthynas", "eich perthynas", "perthynas â’r plentyn", "rwy’n"),
    },
}

# Whole answers that fill several fields.
NAME_PARTS = {
    "@name": ("given_names", "family_name"),
    "@new_name": ("new_given_names", "new_family_name"),
    "@deceased_name": ("deceased_given_names", "deceased_family_name"),
    "@child_name": ("child_given_names", "child_family_name"),
    "@parent_1_name": ("parent_1_given_names", "parent_1_family_name"),
    "@parent_2_name": ("parent_2_given_names", "parent_2_family_name"),
    "@reporter_name": ("reporter_given_names", "reporter_family_name"),
}
ADDRESS_PARTS = {
    "@address": ("address_line_1", "address_line_2", "town", "postcode"),
    "@deceased_address": ("deceased_address_line_1", "deceased_address_line_2", "deceased_town", "deceased_postcode"),
}
PREVIOUS_ADDRESS = "@previous_address"

CHOICE_SYNONYMS: dict[str, tuple[str, ...]] = {
    "marriage": ("married", "got married", "wedding", "marriage", "priodas", "priodi", "wedi priodi"),
    "civil_partnership": ("civil partnership", "civil partner", "partnership", "partneriaeth sifil", "partneriaeth"),
    "divorce": ("divorce", "divorced", "dissolution", "separated", "ysgariad", "ysgaru", "wedi ysgaru"),
    "deed_poll": ("deed poll", "deedpoll", "by deed poll", "gweithred newid enw", "gweithred"),
    # Welsh words as they are written alone and after "ei" (his), which softens them: "ei ferch".
    "spouse_or_partner": ("wife", "husband", "partner", "spouse", "civil partner", "widow", "widower",
                          "gŵr", "ŵr", "gwraig", "wraig", "partner sifil", "gweddw"),
    "child": ("son", "daughter", "child", "stepson", "stepdaughter", "mab", "fab", "merch", "ferch", "plentyn",
              "blentyn", "llysfab", "llysferch"),
    "parent": ("parent", "mother", "father", "mum", "dad", "rhiant", "mam", "fam", "tad"),
    "sibling": ("brother", "sister", "sibling", "brawd", "frawd", "chwaer"),
    "other_relative": ("relative", "aunt", "uncle", "niece", "nephew", "cousin", "grandson", "granddaughter",
                       "grandchild", "grandparent", "in law", "perthynas", "modryb", "ewythr", "nith", "nai",
                       "cefnder", "cyfnither", "ŵyr", "wyres"),
    "executor": ("executor", "executrix", "administrator", "ysgutor", "gweinyddwr"),
    "mother": ("mother", "mum", "mam"),
    "father": ("father", "dad", "tad"),
    "guardian": ("guardian", "legal guardian", "parental responsibility", "gwarcheidwad", "cyfrifoldeb rhiant"),
    "other": ("other", "someone else", "friend", "neighbour", "another reason", "arall", "rhywun arall", "ffrind",
              "cymydog", "rheswm arall"),
}
# Welsh answers a question with its verb: "Ydw" (I am), "Oes" (there is), "Do" (I did), "Ydyn" (they are).
YES = frozenset({"yes", "y", "true", "yes please", "ydw", "ie", "do", "i do", "i confirm", "confirmed", "confirm",
                 "agreed", "i agree", "yes i confirm", "yes i do", "oes", "ydyn", "ydy", "ydi", "ydw i", "ydyn nhw",
                 "cytuno", "rwyn cytuno", "rwyn cadarnhau", "cadarnhau", "ie os gwelwch yn dda"})
NO = frozenset({"no", "n", "false", "no thanks", "nac ydw", "na", "dim", "nac oes", "naddo", "nac ydyn", "nac ydy",
                "nac ydi", "nage", "na diolch", "dim diolch"})


_PUNCTUATION = re.compile(r"[^\w ]+|_")


def norm(label: str) -> str:
    """Lower case, accents dropped (Welsh is often typed without its to bach: "ffon" for "ffôn"),
    apostrophes dropped, other punctuation as spaces, single spaces."""
    text = "".join(c for c in unicodedata.normalize("NFKD", label.lower()) if not unicodedata.combining(c))
    text = text.replace("’", "'").replace("'", "")
    text = _PUNCTUATION.sub(" ", text)
    return " ".join(text.split())


@cache
def labels_for(change_type_id: str) -> dict[str, str]:
    """Every label (normalised) this change type understands -> field name or ``@`` target."""
    change_type: ChangeType = CHANGE_TYPES[change_type_id]
    table: dict[str, str] = {}
    for synonyms in (SYNONYMS, WELSH):
        for target, words in synonyms[change_type_id].items():
            for word in words:
                table.setdefault(norm(word), target)
    for f in change_type.fields:  # the field's own name and label (in every language) always win
        table[norm(f.name)] = f.name
        for language in LANGUAGES:
            table.setdefault(norm(translations_for(language).gettext(f.label)), f.name)
        table[norm(f.label)] = f.name
    for target, words in GLOBAL.items():
        for word in words:
            table[norm(word)] = target
    return table


@cache
def change_names() -> dict[str, str]:
    """Every name (normalised) a change is known by -> its id: its id, its synonyms, its label in every
    language, and its Welsh names."""
    table: dict[str, str] = {}
    for ct in CHANGE_TYPES.values():
        names = (ct.id, *ct.synonyms, ct.label, *CHANGE_NAMES.get(ct.id, ()),
                 *(translations_for(language).gettext(ct.label) for language in LANGUAGES))
        for name in names:
            table.setdefault(norm(name), ct.id)
    return table


@cache
def choice_labels(label: str) -> frozenset[str]:
    """A choice's label (normalised) in every language: "Marriage", "Priodas"."""
    return frozenset(norm(translations_for(language).gettext(label)) for language in LANGUAGES) | {norm(label)}


@lru_cache(maxsize=1)
def all_labels() -> frozenset[str]:
    return frozenset(label for ct in CHANGE_TYPES for label in labels_for(ct))


_ASIDE = re.compile(r"\([^()]*\)|\[[^\[\]]*\]")  # innermost brackets: each is scanned once


def lookup(change_type_id: str, label: str) -> str | None:
    """The target of ``label`` in this change type; "my X" is read as "your X", then as "X".

    Words in brackets are an aside ("Address line 2 (optional)") and do not count."""
    table = labels_for(change_type_id)
    for candidate in _variants(norm(_ASIDE.sub(" ", label))):
        if candidate in table:
            return table[candidate]
    return None


def is_label(label: str) -> bool:
    return any(candidate in all_labels() for candidate in _variants(norm(_ASIDE.sub(" ", label))))


def _variants(label: str) -> tuple[str, ...]:
    variants = [label]
    for prefix, instead in (("my ", "your "), ("my ", ""), ("your ", ""), ("the ", ""), ("please ", ""),
                            ("fy ", "eich "), ("fy ", ""), ("eich ", ""), ("yr ", ""), ("y ", "")):
        if label.startswith(prefix):
            variants.append(instead + label[len(prefix):])
    return tuple(variants)
