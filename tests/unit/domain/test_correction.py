"""What correcting a report does for each organisation: from where its copy is, and what it may see."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from tellusonce.domain.correction import CorrectStep, can_correct, changed_fields, correct_step, organisation_view
from tellusonce.models import NotificationState, ReportState

CHANGED = {"postcode": "LS11 5PT"}


@dataclass
class _Department:
    id: str = "council"
    active: bool = True
    receives: dict[str, list[str]] = field(default_factory=lambda: {"address": ["address_line_1", "town", "postcode",
                                                                               "others_moving"]})
    needs_protected_address: bool = False
    receives_language: bool = False


@pytest.mark.parametrize(("state", "step"), [
    (NotificationState.PENDING, CorrectStep.REPLACE),
    (NotificationState.RETRYING, CorrectStep.REPLACE),
    (NotificationState.DELIVERING, CorrectStep.TELL),  # may reach it any moment: corrected, after it
    (NotificationState.DELIVERED, CorrectStep.TELL),
    (NotificationState.ACKNOWLEDGED, CorrectStep.TELL),
    (NotificationState.DEAD, CorrectStep.NOTHING),
    (NotificationState.CANCELLED, CorrectStep.NOTHING),
])
def test_each_state_has_one_step_when_something_it_sees_changed(state, step):
    assert correct_step(state, CHANGED) == step


@pytest.mark.parametrize("state", [NotificationState.PENDING, NotificationState.DELIVERED])
def test_nothing_it_sees_changed_means_nothing_to_send(state):
    assert correct_step(state, {}) == CorrectStep.UNCHANGED


def test_an_unknown_state_is_refused():
    with pytest.raises(ValueError, match="state"):
        correct_step("lost", CHANGED)


def test_only_a_submitted_report_can_be_corrected():
    assert can_correct(ReportState.SUBMITTED)
    assert not can_correct(ReportState.CANCELLED) and not can_correct(ReportState.PENDING_CONFIRMATION)


def test_only_the_changed_fields_of_the_organisations_own_view_are_sent_with_their_new_values():
    before = {"address_line_1": "4 Canal Wharf", "town": "Leeds", "postcode": "LS11 5PS", "ni_number": "AB123456C"}
    after = {**before, "postcode": "LS11 5PT", "ni_number": "AB123456D", "others_moving": True}
    department = _Department()
    old, new = organisation_view(department, "address", before), organisation_view(department, "address", after)
    assert changed_fields(old, new) == {"postcode": "LS11 5PT", "others_moving": True}  # not the NI number


def test_an_answer_taken_out_is_none_and_a_protected_address_withheld_says_so():
    before = {"address_line_1": "4 Canal Wharf", "town": "Leeds", "postcode": "LS11 5PS"}
    department = _Department()
    protected = organisation_view(department, "address", {**before, "protected_address": True})
    assert changed_fields(organisation_view(department, "address", before), protected) == {
        "protected_address": True, "address_line_1": None, "town": None, "postcode": None}
    assert changed_fields(protected, organisation_view(department, "address", before))["protected_address"] is False
