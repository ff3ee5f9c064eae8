"""What cancelling a report does for each organisation, from where its copy is."""

from __future__ import annotations

import pytest

from tellusonce.domain.cancellation import CancelStep, can_cancel, cancel_step
from tellusonce.models import NotificationState, ReportState


@pytest.mark.parametrize(("state", "step"), [
    (NotificationState.PENDING, CancelStep.NOT_SENT),
    (NotificationState.RETRYING, CancelStep.NOT_SENT),
    (NotificationState.DELIVERING, CancelStep.TELL),  # may reach it any moment: told, after it
    (NotificationState.DELIVERED, CancelStep.TELL),
    (NotificationState.ACKNOWLEDGED, CancelStep.TELL),
    (NotificationState.DEAD, CancelStep.NOTHING),
    (NotificationState.CANCELLED, CancelStep.NOTHING),
])
def test_each_state_has_one_step(state, step):
    assert cancel_step(state) == step


def test_every_state_is_decided():
    assert {cancel_step(s) for s in NotificationState} == set(CancelStep)


def test_an_unknown_state_is_refused():
    with pytest.raises(ValueError, match="state"):
        cancel_step("lost")


def test_a_report_is_cancelled_once_while_it_is_sent_or_held():
    assert can_cancel(ReportState.SUBMITTED) and can_cancel(ReportState.PENDING_CONFIRMATION)
    assert not can_cancel(ReportState.CANCELLED)
