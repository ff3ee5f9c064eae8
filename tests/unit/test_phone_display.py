"""Phone numbers are shown as people write them: UK numbers in the national format, others in the
international one. What departments receive stays in E.164 (+447911123456)."""

from __future__ import annotations

import pytest

from tellusonce.domain.changetypes import CHANGE_TYPES
from tellusonce.domain.fields import display_phone, normalise_phone
from tellusonce.mailout.render import answer_text as email_answer_text


@pytest.mark.parametrize(("stored", "shown"), [
    ("+447911123456", "07911 123456"),
    ("+441134960000", "0113 496 0000"),
    ("+442079460000", "020 7946 0000"),
    ("+33123456789", "+33 1 23 45 67 89"),
    ("+14155552671", "+1 415-555-2671"),
])
def test_a_stored_number_is_shown_as_people_write_it(stored, shown):
    assert display_phone(stored) == shown


def test_what_is_stored_is_still_the_international_form():
    assert normalise_phone("07911 123456") == "+447911123456"


def test_something_that_is_not_a_number_is_shown_as_it_is():
    assert display_phone("call me") == "call me"
    assert display_phone("") == ""


def test_the_emailed_preview_of_what_each_organisation_receives_shows_the_number_as_written():
    contact = CHANGE_TYPES["contact"]
    assert email_answer_text(contact, "phone", "+447911123456", "en") == "07911 123456"
    death = CHANGE_TYPES["death"]
    assert email_answer_text(death, "reporter_phone", "+33123456789", "cy") == "+33 1 23 45 67 89"
