"""A postcode is accepted as the hint shows it, in ASCII letters and digits only."""

from __future__ import annotations

from datetime import date

import pytest

from tellusonce.domain.fields import is_postcode, normalise_postcode
from tellusonce.domain.validation import ChangeInvalid, validate_change
from tests.factories import address_answers

ME = {"given_names": "Amara", "family_name": "Okafor", "date_of_birth": "1988-04-12"}


@pytest.mark.parametrize("typed", ["LS1 1AA", "ls1 1aa", "LS11AA", " LS1  1AA ", "SW1A 2AA", "GIR 0AA", "EC1A1BB"])
def test_a_postcode_as_people_type_it_is_accepted(typed):
    assert is_postcode(typed)


@pytest.mark.parametrize("typed", [
    "LS١ ١AA",  # Arabic-Indic digits
    "LS۱ ۱AA",  # extended Arabic-Indic digits
    "LS１ １AA",  # full-width digits
    "LS𝟏 𝟏AA",  # mathematical bold digits
    "ＬＳ1 1AA",  # full-width letters
    "Lſ1 1AA",  # the long s, which upper-cases to S
    "LS1 1Aa\u0307",  # a combining mark
])
def test_only_ascii_letters_and_digits_make_a_postcode(typed):
    assert not is_postcode(typed)


def test_a_change_with_non_ascii_digits_in_its_postcode_is_refused_on_that_field():
    with pytest.raises(ChangeInvalid) as refused:
        validate_change("address", {**ME, **address_answers(), "postcode": "LS١ ١AA"}, today=date(2026, 11, 22))
    assert "postcode" in refused.value.by_field()


def test_tidying_a_postcode_upper_cases_ascii_letters_only():
    assert normalise_postcode("ls1 1aa") == "LS1 1AA"
    assert normalise_postcode("lſ1 1aa") == "Lſ1 1AA"
