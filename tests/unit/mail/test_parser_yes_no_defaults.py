"""By email as on the web, a move's yes or no questions can be left out, and the email says what
leaving them out means."""

from __future__ import annotations

from datetime import date

from tellusonce.domain.changetypes import CHANGE_TYPES
from tellusonce.domain.validation import validate_change
from tellusonce_mail.parser import parse_change
from tellusonce_mail.replies import blank_template


def test_the_blank_template_says_a_left_out_yes_or_no_answer_means_no():
    lines = blank_template(CHANGE_TYPES["address"], []).splitlines()
    assert "Others in your household are moving too (yes or no) (no if you leave it out): " in lines
    assert "Keep my new address protected (yes or no) (no if you leave it out): " in lines


def test_a_move_emailed_without_them_is_a_move_where_nobody_else_moves_and_the_address_is_not_protected():
    today = date(2026, 11, 22)
    parsed = parse_change("Change: Moving home\nGiven names: Ada\nFamily name: Lovelace\nDate of birth: 27/3/1985\n"
                          "Address line 1: 4 Canal Wharf\nTown or city: Leeds\nPostcode: LS11 5PS\n"
                          "Date you moved: 15/11/2026\nOthers in your household are moving too (yes or no) "
                          "(no if you leave it out): \n", "", departments={}, today=today)
    assert "others_moving" not in parsed.answers
    change = validate_change("address", parsed.answers, today=today)
    assert change.data["others_moving"] is False and change.data["protected_address"] is False
    assert change.protected_address is False
