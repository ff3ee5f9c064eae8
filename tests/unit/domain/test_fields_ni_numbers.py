"""A National Insurance number is accepted in every form the hint and the error show it."""

from __future__ import annotations

import re
from datetime import date

import pytest

from tellusonce.domain.changetypes import CHANGE_TYPES
from tellusonce.domain.fields import KINDS, is_ni_number, normalise_ni_number
from tellusonce.domain.validation import validate_change
from tests.factories import address_answers

# The example the profile page's hint and the format error both quote.
EXAMPLE = re.search(r"like (.+)$", KINDS["ni_number"].invalid).group(1)
ME = {"given_names": "Amara", "family_name": "Okafor", "date_of_birth": "1988-04-12"}


def test_the_example_in_the_error_is_the_one_the_hint_shows():
    from tellusonce.web.account_forms import ProfileForm

    assert EXAMPLE == "QQ 12 34 56 C"
    assert str(ProfileForm.ni_number.kwargs["description"]).endswith(f"For example, {EXAMPLE}")


@pytest.mark.parametrize("typed", [EXAMPLE, EXAMPLE.lower(), EXAMPLE.replace(" ", ""), "qq123456c", "Qq 123 456 C",
                                   " QQ 12 34 56 C ", "QQ-12-34-56-C", "AB 12 34 56 C", "ab123456d"])
def test_the_hints_own_example_is_accepted_with_or_without_spaces_in_either_case(typed):
    assert is_ni_number(typed)
    assert normalise_ni_number(typed.strip()) in ("QQ123456C", "AB123456C", "AB123456D")


def test_a_change_with_the_hints_example_is_valid_and_kept_in_one_form():
    change = validate_change("address", {**ME, **address_answers(), "ni_number": EXAMPLE.lower()},
                             today=date(2026, 11, 22))
    assert change.data["ni_number"] == "QQ123456C"
    assert CHANGE_TYPES["death"].field("deceased_ni_number").kind == "ni_number"  # the same rule for theirs


@pytest.mark.parametrize("typed", [
    "AB １２ ３４ ５６ C",  # full-width digits
    "AB ١٢ ٣٤ ٥٦ C",  # Arabic-Indic digits
    "ＡＢ 12 34 56 C",  # full-width letters
    "AB 12 34 56 ç",
    "QQ 12 34 56 E",
    "QQ 12 34 56",
    "BG 12 34 56 C",
    "ZZ 12 34 56 C",
])
def test_only_ascii_letters_and_digits_in_the_right_places_are_accepted(typed):
    assert not is_ni_number(typed)
