"""When the citizen is emailed about what became of their report: the one home of the notice rule.

Each organisation's copy of a report (a notification) *stands* somewhere for the citizen:

- **received** — acknowledged by the organisation; or, on a channel where organisations do not
  acknowledge (email: a person reads it, and has no API key), delivered;
- **failed** — it could not be sent (dead): the organisation was not told;
- **withdrawn** — cancelled (the citizen withdrew consent before it went): nobody to wait for;
- **waiting** — anything else: queued, being sent, trying again, or sent to an organisation that
  acknowledges and has not yet.

From the copies and what the citizen has been told already, ``next_notice`` says which email is
due, if any. There are three kinds, each at most once for the same outcome:

- ``could_not_tell``: one or more copies failed that no email has mentioned yet;
- ``all_received``: every copy not withdrawn is received, none failed;
- ``others_received``: nothing is waiting any more, some copies failed (and were told), and every
  other one is received, which the failure email could not say when it went.

A failure that an operator replays and that fails again is a new failure (its ``dead_at`` is
new) and is told again; a report whose failure was replayed and then received gets the
all-received email.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum

# Channels whose organisations tell us they have a notification through the department API
# (the example receiver does, for webhooks and the feed). Email goes to a person's mailbox:
# its delivery is as far as we can know.
ACKNOWLEDGING_CHANNELS = frozenset({"webhook", "feed"})


class Standing(StrEnum):
    WAITING = "waiting"
    RECEIVED = "received"
    FAILED = "failed"
    WITHDRAWN = "withdrawn"


def standing(state: str, channel: str) -> Standing:
    """Where a notification in ``state``, for an organisation on ``channel``, stands for the citizen."""
    if state == "acknowledged" or (state == "delivered" and channel not in ACKNOWLEDGING_CHANNELS):
        return Standing.RECEIVED
    if state == "dead":
        return Standing.FAILED
    if state == "cancelled":
        return Standing.WITHDRAWN
    return Standing.WAITING


def may_change_notice(state: str, channel: str) -> bool:
    """Whether a notification arriving in ``state`` may make an email due: whoever moves one there
    marks its report to be looked at again (``tellusonce.application.report_notices``)."""
    return standing(state, channel) is not Standing.WAITING


@dataclass(frozen=True)
class Copy:
    """One organisation's copy of a report, as the rule reads it."""

    notification_id: str
    department_id: str
    state: str
    channel: str
    dead_at: str | None = None  # ISO time it went dead: one failure, told once

    @property
    def standing(self) -> Standing:
        return standing(self.state, self.channel)

    @property
    def failure(self) -> str:
        """The failure's own key: the same copy dead again after a replay is another failure."""
        return f"{self.notification_id}@{self.dead_at or ''}"


@dataclass(frozen=True)
class Told:
    """What the citizen has been told about one report (kept with the report's notice marker)."""

    all_received: bool = False
    others_received: bool = False
    failures: frozenset[str] = field(default_factory=frozenset)


class NoticeKind(StrEnum):
    COULD_NOT_TELL = "could_not_tell"
    ALL_RECEIVED = "all_received"
    OTHERS_RECEIVED = "others_received"


@dataclass(frozen=True)
class Notice:
    """One email to send: its kind, and every copy sorted by where it stands."""

    kind: NoticeKind
    failed_now: tuple[Copy, ...] = ()  # failures this email is the first to mention
    failed_before: tuple[Copy, ...] = ()  # failures an earlier email mentioned
    received: tuple[Copy, ...] = ()
    waiting: tuple[Copy, ...] = ()


def next_notice(copies: Iterable[Copy], told: Told) -> tuple[Notice | None, Told]:
    """The email due now about a report's ``copies`` (None: none), and what will have been told
    once it is sent. Several outcomes since the last look make one email, of the first kind due:
    a new failure first (it asks the citizen to act), then all received, then the others received."""
    ordered = sorted(copies, key=lambda c: (c.department_id, c.notification_id))
    failed = [c for c in ordered if c.standing is Standing.FAILED]
    new = tuple(c for c in failed if c.failure not in told.failures)
    received = tuple(c for c in ordered if c.standing is Standing.RECEIVED)
    waiting = tuple(c for c in ordered if c.standing is Standing.WAITING)
    settled = not waiting and bool(received)
    if new:
        old = tuple(c for c in failed if c.failure in told.failures)
        after = replace(told, failures=told.failures | {c.failure for c in new},
                        others_received=told.others_received or settled)
        return Notice(NoticeKind.COULD_NOT_TELL, new, old, received, waiting), after
    if settled and not failed and not told.all_received:
        return Notice(NoticeKind.ALL_RECEIVED, received=received), replace(told, all_received=True)
    if settled and failed and not told.others_received:
        return (Notice(NoticeKind.OTHERS_RECEIVED, failed_before=tuple(failed), received=received),
                replace(told, others_received=True))
    return None, told
