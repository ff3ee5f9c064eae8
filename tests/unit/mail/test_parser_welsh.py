"""Reading a change typed in Welsh: the change's name, the labels of every field (the Welsh of the
web form's own labels, and what people write), choices, yes and no, organisations and dates."""

from __future__ import annotations

from datetime import date

import pytest

from tellusonce.domain.changetypes import CHANGE_TYPES
from tellusonce.domain.validation import validate_change
from tellusonce.i18n import translations_for
from tellusonce_mail.dates import parse_date
from tellusonce_mail.parser import parse_change
from tellusonce_mail.replies import blank_template

TODAY = date(2026, 11, 22)
DEPARTMENTS = {
    "dvla": ("Driver and Vehicle Licensing Agency (DVLA)", "Driver and Vehicle Licensing Agency",
             "Yr Asiantaeth Trwyddedu Gyrwyr a Cherbydau (DVLA)"),
    "hmrc": ("HM Revenue and Customs (HMRC)", "HM Revenue and Customs", "Cyllid a Thollau EF (CThEF)"),
    "dwp": ("Department for Work and Pensions (DWP)", "Department for Work and Pensions",
            "Yr Adran Gwaith a Phensiynau (DWP)"),
    "hmpo": ("HM Passport Office", "Home Office", "Swyddfa Pasbort EF"),
    "tv-licensing": ("TV Licensing", "BBC", "Trwyddedu Teledu"),
}


def parse(text: str, subject: str = ""):
    return parse_change(text, subject, departments=DEPARTMENTS, today=TODAY)


@pytest.mark.parametrize("typed, expected", [
    ("1 Tachwedd 2026", "2026-11-01"),
    ("1af o Dachwedd 2026", "2026-11-01"),
    ("2il Chwefror 2026", "2026-02-02"),
    ("3ydd o Fawrth 2026", "2026-03-03"),
    ("5ed Mai 2026", "2026-05-05"),
    ("1 o Fai 2026", "2026-05-01"),
    ("7fed o Fehefin 2026", "2026-06-07"),
    ("15fed o Orffennaf 2026", "2026-07-15"),
    ("11eg Awst 2026", "2026-08-11"),
    ("1af o Fedi 2026", "2026-09-01"),
    ("1 Medi 2026", "2026-09-01"),
    ("21ain o Ragfyr 2025", "2025-12-21"),
    ("4 Ion 2026", "2026-01-04"),
    ("9 Gorff 2026", "2026-07-09"),
    ("Dydd Sul 1 Tachwedd 2026", "2026-11-01"),
    ("dydd Llun, 2 Tach", "2026-11-02"),
    ("ddoe", "2026-11-21"),
    ("31 Chwefror 2026", None),
    ("1 Tachwedd y flwyddyn nesaf", None),
])
def test_dates_typed_in_welsh_are_read(typed, expected):
    assert parse_date(typed, today=TODAY) == expected


def test_a_move_typed_in_welsh_is_read_as_a_move():
    parsed = parse("Newid: symud tŷ\nCyfeiriad newydd: 5 Heol y Parc, Caerdydd, CF10 1AA\n"
                   "Dyddiad symud: 1 Tachwedd 2026\nDweud wrth: DVLA, CThEF")
    assert parsed.change_type == "address" and parsed.named_in == "body"
    assert parsed.answers == {"address_line_1": "5 Heol y Parc", "town": "Caerdydd", "postcode": "CF10 1AA",
                              "move_date": "2026-11-01"}
    assert parsed.recipients == ("dvla", "hmrc") and parsed.unrecognised == ()


@pytest.mark.parametrize("named, change_type", [
    ("symud tŷ", "address"), ("Symud cartref", "address"), ("newid cyfeiriad", "address"),
    ("newid enw", "name"), ("Newid fy enw", "name"),
    ("manylion cyswllt newydd", "contact"), ("e-bost newydd", "contact"),
    ("marwolaeth", "death"), ("Rhoi gwybod am farwolaeth", "death"),
    ("genedigaeth", "birth"), ("babi newydd", "birth"), ("Manylion cofrestru genedigaeth", "birth"),
])
def test_each_change_is_known_by_its_welsh_name(named, change_type):
    assert parse(f"Newid: {named}").change_type == change_type
    assert parse("", subject=f"Ateb: {named}").change_type == change_type


def test_a_change_of_name_in_welsh_reads_the_reason_and_a_mutated_month():
    parsed = parse("Newid: newid enw\nEnw: Siân Jones\nEnw newydd: Siân Morgan\nRheswm: priodas\n"
                   "Dyddiad y newid: 1af o Fedi 2026\nDweud wrth: Swyddfa Pasbort EF, yr Adran Gwaith a Phensiynau")
    assert parsed.change_type == "name" and parsed.unrecognised == ()
    assert parsed.answers == {"given_names": "Siân", "family_name": "Jones", "new_given_names": "Siân",
                              "new_family_name": "Morgan", "reason": "marriage", "change_date": "2026-09-01"}
    assert parsed.recipients == ("hmpo", "dwp")


def test_a_death_reported_in_welsh_reads_the_relationship_and_the_declaration():
    parsed = parse("Newid: marwolaeth\nEnw’r person a fu farw: Gwilym Jones\nDyddiad marw: 2 Hydref 2026\n"
                   "Eu cyfeiriad olaf: 3 Stryd y Bont, Aberystwyth, SY23 1AA\nEich enw: Megan Jones\n"
                   "Eich perthynas â nhw: merch\nCadarnhewch fod gennych chi awdurdod: ydw\nDweud wrth: pawb")
    assert parsed.change_type == "death" and parsed.unrecognised == ()
    assert parsed.answers["deceased_given_names"] == "Gwilym" and parsed.answers["date_of_death"] == "2026-10-02"
    assert parsed.answers["deceased_town"] == "Aberystwyth" and parsed.answers["deceased_postcode"] == "SY23 1AA"
    assert parsed.answers["reporter_family_name"] == "Jones"
    assert parsed.answers["reporter_relationship"] == "child" and parsed.answers["authority_declared"] is True
    assert parsed.tell_all


@pytest.mark.parametrize("typed, expected", [("ydw", True), ("Oes", True), ("ie", True), ("nac ydw", False),
                                             ("Nac oes", False), ("na", False), ("naddo", False)])
def test_yes_and_no_in_welsh(typed, expected):
    parsed = parse(f"Newid: symud tŷ\nMae eraill yn eich cartref yn symud hefyd: {typed}")
    assert parsed.answers["others_moving"] is expected


SAMPLES = {"name": "Siân", "date": "3 Mawrth 1980", "ni_number": "AB123456C", "text": "Caerdydd",
           "postcode": "CF10 1AA", "bool": "na", "declaration": "ydw", "email": "sian@example.org",
           "phone": "07911 123456"}


@pytest.mark.parametrize("change_type", sorted(CHANGE_TYPES))
def test_the_welsh_blank_layout_filled_in_is_read_back_field_by_field(change_type):
    """Every label the Welsh reply offers is one the parser knows, for every change type."""
    ct = CHANGE_TYPES[change_type]
    cy = translations_for("cy").gettext
    filled = []
    for line in blank_template(ct, [], language="cy").splitlines():
        label = line.rstrip().removesuffix(":")
        f = max((f for f in ct.fields if label.startswith(cy(f.label))), key=lambda f: len(cy(f.label)), default=None)
        if f is not None:
            value = cy(f.choices[0][1]) if f.kind == "choice" else SAMPLES[f.kind]
            if f.name == "move_date" or f.name == "change_date":
                value = "1 Tachwedd 2026"
            line = f"{line.rstrip()} {value}"
        elif line.startswith("Dweud wrth:"):
            line = "Dweud wrth: CThEF"
        filled.append(line)
    parsed = parse("\n".join(filled))
    assert parsed.change_type == change_type and parsed.unrecognised == ()
    assert {f.name for f in ct.fields if f.required} <= set(parsed.answers)
    assert parsed.recipients == ("hmrc",)
    validate_change(ct.id, parsed.answers, today=TODAY)


def test_the_welsh_blank_layout_names_its_labels_in_welsh():
    layout = blank_template(CHANGE_TYPES["address"], [], language="cy")
    assert layout.splitlines()[0] == "Newid: Symud tŷ"
    assert "Dweud wrth: " in layout and "Tell:" not in layout


def test_welsh_typed_without_its_accents_is_read_as_with_them():
    """Many write Welsh on a keyboard without a to bach: "ffon" for "ffôn", "a" for "â"."""
    parsed = parse("Newid: marwolaeth\nEnw'r person a fu farw: Gwilym Jones\nEich perthynas a nhw: gwr\n"
                   "Eich rhif ffon: 07911 123456")
    assert parsed.unrecognised == ()
    assert parsed.answers["reporter_relationship"] == "spouse_or_partner"
    assert parsed.answers["reporter_phone"] == "07911 123456"
    born = parse("Newid: genedigaeth\nEich perthynas a'r plentyn: mam")
    assert born.unrecognised == () and "reporter_relationship" in born.answers
    assert parse("Newid: manylion cyswllt\nRhif ffon newydd: 07911 123456").answers.get("phone") == "07911 123456"
