"""A change is checked in the citizen's terms; the same rules serve the web and email."""

from datetime import date

import pytest

from tellusonce.domain.changetypes import CHANGE_TYPES
from tellusonce.domain.fields import is_name, is_ni_number, is_postcode
from tellusonce.domain.validation import ChangeInvalid, validate_change
from tests.factories import address_answers

TODAY = date(2026, 11, 22)
ME = {"given_names": "Amara", "family_name": "Okafor", "date_of_birth": "1988-04-12"}


def errors(change_type, answers):
    with pytest.raises(ChangeInvalid) as caught:
        validate_change(change_type, answers, today=TODAY)
    return {e.field: e.render() for e in caught.value.errors}


@pytest.mark.parametrize("postcode", ["LS1 1AA", "ls11aa", "SW1A 2AA", "M1 1AE", "B33 8TH", "CR2 6XH", "DN55 1PT", "GIR 0AA", "EC1A 1BB"])
def test_real_postcodes_are_accepted(postcode):
    assert is_postcode(postcode)


@pytest.mark.parametrize("postcode", ["LS1", "12345", "QQ1 1AA", "LS1 1AAA", "", "LS1 1CA"])
def test_postcodes_that_cannot_exist_are_refused(postcode):
    assert not is_postcode(postcode)


@pytest.mark.parametrize("ni", ["AB123456C", "ab 12 34 56 c", "JC123456D", "ce-12-34-56-a"])
def test_ni_numbers_in_the_right_format_are_accepted(ni):
    assert is_ni_number(ni)


@pytest.mark.parametrize("ni", ["BG123456C", "GB123456C", "NK123456C", "TN123456C", "ZZ123456C", "AB123456E", "AB12345C"])
def test_ni_numbers_with_excluded_prefixes_or_bad_suffixes_are_refused(ni):
    assert not is_ni_number(ni)


@pytest.mark.parametrize("name", ["Zoë", "O'Brien", "Jean-Luc", "Nguyễn", "محمد", "李", "Ólafur Ragnar", "St. John"])
def test_names_in_any_script_are_accepted(name):
    assert is_name(name)


@pytest.mark.parametrize("name", ["R2D2", "<script>", "", "   ", "a@b"])
def test_names_with_digits_or_symbols_are_refused(name):
    assert not is_name(name)


def test_valid_move_is_tidied():
    change = validate_change("address", {**ME, **address_answers(postcode="ls11 5ps ")}, today=TODAY)
    assert change.data["postcode"] == "LS11 5PS"
    assert change.effective_date == date(2026, 11, 15)


def test_move_more_than_three_months_ahead_or_five_years_back_is_refused():
    assert "3 months" in errors("address", {**ME, **address_answers(move_date="2027-02-23")})["move_date"]
    assert validate_change("address", {**ME, **address_answers(move_date="2027-02-22")}, today=TODAY).effective_date
    assert "5 years" in errors("address", {**ME, **address_answers(move_date="2020-01-01")})["move_date"]


def test_death_in_the_future_is_refused():
    from tests.factories import death_answers

    found = errors("death", {**death_answers(date_of_death="2026-12-01"), "reporter_given_names": "A", "reporter_family_name": "B"})
    assert found["date_of_death"] == "Date of death must be today or in the past"


def test_missing_answers_say_what_to_enter():
    found = errors("address", {})
    assert found["postcode"] == "Enter postcode"
    assert found["move_date"] == "Enter the date you moved"


def test_contact_change_needs_an_email_or_a_phone():
    assert errors("contact", ME) == {"email": "Enter a new email address or a new phone number"}
    assert validate_change("contact", {**ME, "phone": "07911 123456"}, today=TODAY).data["phone"] == "+447911123456"


def test_unknown_answers_are_refused_not_ignored():
    assert "_unknown" in errors("contact", {**ME, "email": "a@example.org", "favourite_colour": "blue"})


def test_death_needs_the_authority_declaration():
    from tests.factories import death_answers

    found = errors("death", {**death_answers(authority_declared=False), "reporter_given_names": "A", "reporter_family_name": "B"})
    assert found == {"authority_declared": "Confirm you have the authority of the executor or next of kin"}


def test_every_change_type_publishes_a_valid_json_schema():
    from jsonschema import Draft202012Validator

    for change_type in CHANGE_TYPES.values():
        schema = change_type.json_schema("https://tellusonce.test/")
        Draft202012Validator.check_schema(schema)
        assert schema["$id"] == f"https://tellusonce.test/schemas/{change_type.id}.json"


