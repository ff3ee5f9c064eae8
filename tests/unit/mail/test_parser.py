"""Reading the typed layout: labels, synonyms, dates, names, addresses and organisations."""

from __future__ import annotations

from datetime import date

import pytest

from tellusonce.domain.validation import ChangeInvalid, validate_change
from tellusonce_mail.dates import parse_date
from tellusonce_mail.mime import read_message, typed_text
from tellusonce_mail.parser import parse_change, split_address, split_name

TODAY = date(2026, 11, 22)
DEPARTMENTS = {
    "dvla": ("Driver and Vehicle Licensing Agency (DVLA)", "Driver and Vehicle Licensing Agency"),
    "hmrc": ("HM Revenue and Customs (HMRC)", "HM Revenue and Customs"),
    "hmpo": ("HM Passport Office", "Home Office"),
    "leeds-council-tax": ("Leeds City Council – Council Tax", "Leeds City Council"),
    "leeds-electoral-registration": ("Leeds Electoral Registration Office", "Leeds City Council"),
    "meadow-lane-surgery": ("Meadow Lane Surgery (NHS GP practice)", "Meadow Lane Surgery"),
    "tv-licensing": ("TV Licensing", "BBC"),
}


def parse(text: str, subject: str = ""):
    return parse_change(text, subject, departments=DEPARTMENTS, today=TODAY)


@pytest.mark.parametrize("typed, expected", [
    ("1/11/2026", "2026-11-01"),
    ("01/11/2026", "2026-11-01"),
    ("1.11.26", "2026-11-01"),
    ("1-11-2026", "2026-11-01"),
    ("2026-11-01", "2026-11-01"),
    ("1 November 2026", "2026-11-01"),
    ("1st Nov 2026", "2026-11-01"),
    ("Sunday 1st of November, 2026", "2026-11-01"),
    ("November 1, 2026", "2026-11-01"),
    ("1 Tachwedd 2026", "2026-11-01"),
    ("12/4/88", "1988-04-12"),
    ("3 October", "2026-10-03"),
    ("yesterday", "2026-11-21"),
    ("31/2/2026", None),
    ("next Tuesday", None),
    ("", None),
])
def test_dates_are_read_as_people_in_the_uk_type_them(typed, expected):
    assert parse_date(typed, today=TODAY) == expected


def test_the_documented_layout_is_read_whatever_the_case_and_spacing():
    parsed = parse("  CHANGE :Moving House\nnew ADDRESS:5 Park Road,Leeds,ls2 9jt\n"
                   "Date Of Move :  1 November 2026\ntell: dvla,Hmrc")
    assert parsed.change_type == "address"
    assert parsed.answers == {"address_line_1": "5 Park Road", "town": "Leeds", "postcode": "LS2 9JT",
                              "move_date": "2026-11-01"}
    assert parsed.recipients == ("dvla", "hmrc")


@pytest.mark.parametrize("words", ["moving house", "new home", "Moved", "I am moving house", "address"])
def test_synonyms_name_the_change(words):
    assert parse(f"Change: {words}").change_type == "address"


def test_the_change_named_only_in_the_subject_is_found():
    parsed = parse("Postcode: LS2 9JT", subject="Fwd: RE: new baby")
    assert (parsed.change_type, parsed.named_in) == ("birth", "subject")


def test_labels_that_belong_to_one_change_name_it():
    assert parse("New surname: Byron\nReason: marriage").change_type == "name"
    assert parse("Date of death: 20/11/2026").change_type == "death"


def test_an_unknown_change_is_reported_as_typed():
    parsed = parse("Change: new car")
    assert parsed.change_type is None and parsed.unknown_change == "new car"


def test_an_address_over_several_lines_and_field_by_field():
    parsed = parse("Change: address\nNew address:\n  Flat 2\n  5 Park Road\n  Leeds\n  LS2 9JT\n\nTown: Headingley")
    assert parsed.answers["address_line_1"] == "Flat 2"
    assert parsed.answers["address_line_2"] == "5 Park Road"
    assert parsed.answers["town"] == "Headingley"  # named on its own, it wins
    assert parsed.answers["postcode"] == "LS2 9JT"


def test_the_previous_address_keeps_its_postcode_apart():
    parsed = parse("Change: address\nOld address: 12 Hill Street, Leeds LS1 1AA")
    assert parsed.answers["previous_address"] == "12 Hill Street, Leeds"
    assert parsed.answers["previous_postcode"] == "LS1 1AA"


@pytest.mark.parametrize("text, given, family", [
    ("Ada Lovelace", "Ada", "Lovelace"),
    ("Mary Ann Evans", "Mary Ann", "Evans"),
    ("Lovelace, Ada", "Ada", "Lovelace"),
    ("Cher", "Cher", None),
])
def test_whole_names_are_split_into_given_and_family_names(text, given, family):
    assert split_name(text) == (given, family)


def test_an_address_without_a_postcode_is_still_split():
    assert split_address("5 Park Road, Headingley, Leeds") == ("5 Park Road", "Headingley", "Leeds", None)


def test_choices_booleans_and_declarations_accept_everyday_words():
    death = parse("Change: death\nRelationship: I am his daughter\nI have the authority: yes")
    assert death.answers["reporter_relationship"] == "child"
    assert death.answers["authority_declared"] is True
    name = parse("Change: name\nReason: we got married")
    assert name.answers["reason"] == "marriage"
    move = parse("Change: address\nProtected address: no\nOthers moving: Yes")
    assert move.answers["protected_address"] is False and move.answers["others_moving"] is True


def test_organisations_are_known_by_id_name_abbreviation_and_close_words():
    parsed = parse("Change: address\nTell: DVLA, HM Revenue and Customs, council tax, electoral register, "
                   "tv licence, GP and passport office")
    assert parsed.recipients == ("dvla", "hmrc", "leeds-council-tax", "leeds-electoral-registration",
                                 "tv-licensing", "meadow-lane-surgery", "hmpo")
    assert parsed.unknown_recipients == ()


def test_organisations_that_are_unknown_or_ambiguous_are_listed():
    parsed = parse("Change: address\nTell: the DVLA, Leeds, my dentist")
    assert parsed.recipients == ("dvla",)
    assert parsed.unknown_recipients == ("Leeds", "my dentist")


def test_tell_everyone_and_no_tell_line_are_told_apart():
    assert parse("Change: address\nTell: everyone").tell_all is True
    assert parse("Change: address").tell_given is False


def test_lines_that_are_not_understood_are_listed_and_greetings_ignored():
    parsed = parse("Hi team,\nChange: address\nShoe size: 9\nPostcode: LS2 9JT\nThanks, Ada")
    assert parsed.unrecognised == ("Shoe size",)
    assert parsed.answers == {"postcode": "LS2 9JT"}


def test_the_blank_template_hints_and_optional_markers_do_not_get_in_the_way():
    parsed = parse("Change: Moving home\n[Leave these blank to use the details in your account]\nGiven names: \n"
                   "Address line 2 (optional): Headingley\nOthers in your household are moving too (yes or no, "
                   "optional): yes\nTell: \n[Who you can tell: DVLA, HMRC]")
    assert parsed.answers == {"address_line_2": "Headingley", "others_moving": True}
    assert parsed.recipients == ()


def test_quoted_replies_signatures_and_phone_footers_are_not_read():
    text = typed_text("Postcode: LS2 9JT\n\nSent from my iPhone\n\nOn Sun, 22 Nov 2026, Tell us once wrote:\n"
                      "> Postcode: LS1 1AA\n")
    assert text == "Postcode: LS2 9JT"
    assert typed_text("Tell: DVLA\n-- \nAda\nTell: HMRC") == "Tell: DVLA"
    assert typed_text("Tell: DVLA\n-----Original Message-----\nTell: HMRC") == "Tell: DVLA"


def test_a_change_valid_by_email_is_exactly_the_change_valid_on_the_web():
    web = {"given_names": "Ada", "family_name": "Okafor", "date_of_birth": "1988-04-12",
           "address_line_1": "5 Park Road", "town": "Leeds", "postcode": "LS2 9JT", "move_date": "2026-11-01"}
    email = parse("Change: moving house\nFirst name: Ada\nSurname: Okafor\nDOB: 12/4/1988\n"
                  "New address: 5 Park Road, Leeds, LS2 9JT\nDate of move: 1 November 2026")
    assert validate_change("address", email.answers, today=TODAY) == validate_change("address", web, today=TODAY)
    with pytest.raises(ChangeInvalid) as on_web:
        validate_change("address", {**web, "postcode": "LS2"}, today=TODAY)
    with pytest.raises(ChangeInvalid) as by_email:
        validate_change("address", parse("Change: address\nFirst name: Ada\nSurname: Okafor\nDOB: 12/4/1988\n"
                                         "New address: 5 Park Road, Leeds\nPostcode: LS2\nMoved: 1/11/2026").answers,
                        today=TODAY)
    assert [e.render() for e in by_email.value.errors] == [e.render() for e in on_web.value.errors]


def test_a_message_that_is_not_mail_at_all_reads_as_empty():
    read = read_message(b"\x00\xff\xfe garbage without headers")
    assert read.subject == "" and read.from_address is None


def test_nul_characters_in_headers_and_body_are_dropped():
    # PostgreSQL's text cannot hold NUL: a subject of "\x00" once failed the message's own update.
    read = read_message(b"From: ada@example.org\r\nSubject: Moving\x00 house\r\nX-Loop: a\x00b\r\n"
                        b"Authentication-Results: mx\x00; spf=pass\r\n\r\nNew address:\x00 5 Park Road\r\n")
    assert read.subject == "Moving house"
    assert read.headers["x-loop"] == "ab"
    assert read.authentication_results == ("mx; spf=pass",)
    assert "\x00" not in read.text and "5 Park Road" in read.text


@pytest.mark.parametrize("change_type_id", ["address", "name", "contact", "death", "birth"])
def test_every_line_of_the_blank_template_is_understood(change_type_id):
    from tellusonce.domain.changetypes import CHANGE_TYPES
    from tellusonce_mail.replies import blank_template

    change_type = CHANGE_TYPES[change_type_id]
    filled = "\n".join(f"{line}Filled in" if line.endswith(": ") else line
                       for line in blank_template(change_type, []).splitlines())
    parsed = parse(filled)
    assert parsed.change_type == change_type_id
    assert parsed.unrecognised == ()
    assert set(parsed.answers) == set(change_type.field_names)
