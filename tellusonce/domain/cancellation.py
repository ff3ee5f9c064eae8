"""What cancelling a sent report does for each organisation, decided from where its copy is.

- still queued (pending, or waiting to try again): cancelled now, never sent;
- being sent now, sent, or received: the organisation has it, or may have it in a moment, so
  it is sent a cancellation event naming it, delivered only after it (``IN_ORDER_SQL``);
- could not be sent, or cancelled already (consent withdrawn): it never got it; nothing to undo.

A report can be cancelled once, while it is submitted or waiting for the citizen to confirm it.
"""

from __future__ import annotations

from enum import StrEnum

from tellusonce.models.outbox import NotificationState
from tellusonce.models.report import ReportState

CANCELLABLE_REPORTS = (ReportState.SUBMITTED, ReportState.PENDING_CONFIRMATION)


class CancelStep(StrEnum):
    NOT_SENT = "not_sent"  # queued: cancelled before it is sent
    TELL = "tell"  # it has it (or is being sent it): told it is cancelled
    NOTHING = "nothing"  # it never got it: nothing to do


_STEPS: dict[str, CancelStep] = {
    NotificationState.PENDING: CancelStep.NOT_SENT,
    NotificationState.RETRYING: CancelStep.NOT_SENT,
    NotificationState.DELIVERING: CancelStep.TELL,
    NotificationState.DELIVERED: CancelStep.TELL,
    NotificationState.ACKNOWLEDGED: CancelStep.TELL,
    NotificationState.DEAD: CancelStep.NOTHING,
    NotificationState.CANCELLED: CancelStep.NOTHING,
}


def cancel_step(state: str) -> CancelStep:
    """What cancelling the report does for a notification in ``state``."""
    try:
        return _STEPS[state]
    except KeyError:
        raise ValueError(f"no such notification state: {state!r}") from None


def can_cancel(report_state: str) -> bool:
    return report_state in CANCELLABLE_REPORTS
