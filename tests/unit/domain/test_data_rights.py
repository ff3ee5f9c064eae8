"""Which emails ask for a data right, in English and Welsh, and when each must be answered."""

from __future__ import annotations

from datetime import date

import pytest

from tellusonce.domain.data_rights import Right, answer_due, rights_asked


@pytest.mark.parametrize(("text", "rights"), [
    ("I would like to make a subject access request.", [Right.ACCESS]),
    ("Please send me a copy of all the personal data you hold about me", [Right.ACCESS]),
    ("SAR", [Right.ACCESS]),
    ("Delete my data please", [Right.ERASURE]),
    ("I want to exercise my right to be forgotten (GDPR Article 17)", [Right.ERASURE, Right.DATA_PROTECTION]),
    ("Request for erasure", [Right.ERASURE]),
    ("Under UK GDPR I ask you to rectify my address", [Right.RECTIFICATION, Right.DATA_PROTECTION]),
    ("Hoffwn wneud cais gwrthrych am wybodaeth", [Right.ACCESS]),
    ("Dilëwch fy nata os gwelwch yn dda. Hoffwn ddileu fy nata i gyd.", [Right.ERASURE]),
    ("Rwyf am ddefnyddio fy hawl i gael fy anghofio", [Right.ERASURE]),
    ("Cais diogelu data", [Right.DATA_PROTECTION]),
])
def test_a_request_for_a_data_right_is_recognised(text: str, rights: list[Right]) -> None:
    assert rights_asked(text) == rights


@pytest.mark.parametrize("text", [
    "Change: moving house\nNew address: 5 Park Road, Leeds, LS2 9JT\nTell: DVLA, HMRC",
    "Newid: symud tŷ\nDweud wrth: CThEF",
    "I have been made a partner at Sarson's; my address changed",  # "sar" inside a word
    "Please update my details",
])
def test_a_change_is_not_a_data_rights_request(text: str) -> None:
    assert rights_asked(text) == []


@pytest.mark.parametrize(("received", "due"), [
    (date(2026, 11, 22), date(2026, 12, 22)),
    (date(2026, 12, 2), date(2027, 1, 2)),
    (date(2027, 1, 31), date(2027, 2, 28)),
    (date(2028, 1, 31), date(2028, 2, 29)),
    (date(2026, 3, 31), date(2026, 4, 30)),
])
def test_a_request_is_due_one_calendar_month_after_it_arrived(received: date, due: date) -> None:
    assert answer_due(received) == due
