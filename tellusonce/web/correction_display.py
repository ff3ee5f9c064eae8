"""How a report's corrections read on its tracker page, per organisation: each correction event
sent after its copy (with what it corrected, and when), or its copy replaced by the corrected one
before it was sent (``tellusonce.application.correction``)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from flask_babel import gettext as _

from tellusonce.application.correction import current_copies
from tellusonce.models import Notification, NotificationKind, NotificationState
from tellusonce.web import display


def corrections_by_original(notifications: Sequence[Notification]) -> dict[uuid.UUID, list[Notification]]:
    """The correction events of a report, by the copy each corrects, oldest first."""
    found: dict[uuid.UUID, list[Notification]] = {}
    for n in notifications:
        if n.kind == NotificationKind.CORRECTION and n.original_id is not None:
            found.setdefault(n.original_id, []).append(n)
    return found


def shown_copies(notifications: Sequence[Notification]) -> list[Notification]:
    """One card per organisation: its copy of the report, not the queued ones a correction replaced."""
    return current_copies(list(notifications))


def corrected_before_sending(copy: Notification) -> bool:
    """Whether this copy is the corrected one that replaced a copy not yet sent."""
    return copy.kind == NotificationKind.CHANGE and copy.after_id is not None


def correction_view(event: Notification) -> dict[str, Any]:
    """One correction event in words and times, with the details it corrects."""
    times: list[tuple[str, Any]] = [(_("Correction queued"), event.created_at)]
    if event.state in (NotificationState.DELIVERED, NotificationState.ACKNOWLEDGED):
        times.append((_("Correction sent"), event.delivered_at))
        if event.acknowledged_at:
            times.append((_("They confirmed they have the correction"), event.acknowledged_at))
        words = _("Sent the correction")
    elif event.state == NotificationState.DEAD:
        times.append((_("Stopped trying"), event.dead_at))
        words = _("We could not send them the correction")
    elif event.state == NotificationState.CANCELLED:
        words = _("Not sent the correction, because you withdrew your consent")
    else:
        if event.state == NotificationState.RETRYING and event.next_attempt_at:
            times.append((_("Next try"), event.next_attempt_at))
        words = _("Will be sent the correction once they have the report")
    return {"words": words, "times": times, "fields": display.told_fields(event)}
