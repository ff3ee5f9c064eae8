"""What correcting a sent report does for each organisation, decided from where its copy is and
what it may see.

Each organisation sees the report through its own minimised view (``consent.fields_for`` and
``minimise``, as the intake sends it). Correcting compares that view before and after:

- nothing it may see changed: it is sent nothing;
- its copy still queued (pending, or waiting to try again): the queued copy is replaced by the
  corrected one, so it is only ever sent the corrected version;
- its copy being sent now, sent, or received: it is sent a correction event naming that copy,
  with only the fields of its view that changed, delivered only after it (``IN_ORDER_SQL``);
- its copy could not be sent, or was cancelled (consent withdrawn): it never got it; nothing to do.

A report can be corrected while it is submitted (not once it is cancelled, nor while it waits
for the citizen to confirm it).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from tellusonce.domain.consent import DepartmentLike, fields_for, minimise
from tellusonce.models.outbox import NotificationState
from tellusonce.models.report import ReportState

CORRECTABLE_REPORTS = (ReportState.SUBMITTED,)
PROTECTED = "protected_address"


class CorrectStep(StrEnum):
    REPLACE = "replace"  # queued: the queued copy is replaced by the corrected one
    TELL = "tell"  # it has it (or is being sent it): sent a correction event
    UNCHANGED = "unchanged"  # nothing it may see changed: sent nothing
    NOTHING = "nothing"  # it never got it: nothing to correct


_STEPS: dict[str, CorrectStep] = {
    NotificationState.PENDING: CorrectStep.REPLACE,
    NotificationState.RETRYING: CorrectStep.REPLACE,
    NotificationState.DELIVERING: CorrectStep.TELL,
    NotificationState.DELIVERED: CorrectStep.TELL,
    NotificationState.ACKNOWLEDGED: CorrectStep.TELL,
    NotificationState.DEAD: CorrectStep.NOTHING,
    NotificationState.CANCELLED: CorrectStep.NOTHING,
}


def correct_step(state: str, changed: Mapping[str, Any]) -> CorrectStep:
    """What correcting the report does for a notification in ``state`` whose view changed by ``changed``."""
    try:
        step = _STEPS[state]
    except KeyError:
        raise ValueError(f"no such notification state: {state!r}") from None
    return CorrectStep.UNCHANGED if step != CorrectStep.NOTHING and not changed else step


def can_correct(report_state: str) -> bool:
    return report_state in CORRECTABLE_REPORTS


def organisation_view(department: DepartmentLike, change_type: str, data: Mapping[str, Any], *,
                      language: str | None = None) -> dict[str, Any]:
    """What the organisation may see of a change's answers, as the intake sends it: the fields the
    registry gives it (a protected address only where it is needed), whether the address is
    protected, and ``language`` when given (only where the registry grants it)."""
    protected = bool(data.get(PROTECTED))
    fields, _ = fields_for(department, change_type, protected_address=protected)
    return minimise(data, fields, protected_address=protected, language=language)


def changed_fields(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of an organisation's view that a correction changes, with their new values: None
    for an answer it is no longer given (taken out, or withheld now the address is protected), and
    ``protected_address`` False when the address is no longer protected."""
    changed: dict[str, Any] = {}
    for name in [*after, *(n for n in before if n not in after)]:
        old, new = before.get(name), after.get(name)
        if old != new:
            changed[name] = bool(new) if name == PROTECTED else new
    return changed
