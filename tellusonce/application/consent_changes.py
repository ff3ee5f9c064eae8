"""Changing a standing consent, and counting what a change or a withdrawal would cancel.

Grants are never edited: limiting or extending what an organisation may receive
makes a new grant (with its receipt) and withdraws the old one. Notifications
still waiting under the old grant whose kind of change the new grant still
covers move to the new grant's receipt, so they are sent under the consent that
now allows them; only those the new grant no longer covers are cancelled.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session

from tellusonce.application.consent import active_grants, grant_consent, withdraw_consent
from tellusonce.data.outbox import CANCELLABLE  # what withdrawing a grant cancels (``withdraw_consent``)
from tellusonce.models import ConsentEvent, ConsentGrant, ConsentScope, Department, Notification, NotificationState


@dataclass(frozen=True)
class DepartmentConsent:
    """What one organisation may receive about a citizen now."""

    department: Department
    standing: list[ConsentGrant]
    one_off: int  # one-off grants in force (each for one report)

    @property
    def change_types(self) -> list[str]:
        return sorted({t for g in self.standing for t in g.change_types})

    @property
    def any(self) -> bool:
        return bool(self.standing) or self.one_off > 0


def consents_by_department(session: Session, citizen_id: uuid.UUID, departments: Sequence[Department], *,
                           now: datetime) -> list[DepartmentConsent]:
    grants = active_grants(session, citizen_id, now=now)
    result = []
    for department in departments:
        mine = [g for g in grants if g.department_id == department.id]
        result.append(DepartmentConsent(
            department=department,
            standing=[g for g in mine if g.scope == ConsentScope.STANDING],
            one_off=sum(1 for g in mine if g.scope == ConsentScope.ONE_OFF),
        ))
    return result


def _waiting(citizen_id: uuid.UUID, receipts: Collection[uuid.UUID]) -> Select[int]:
    return select(func.count()).select_from(Notification).where(
        Notification.citizen_id == citizen_id,
        Notification.consent_receipt_id.in_(list(receipts)),
        Notification.state.in_(CANCELLABLE),
    )


def cancelled_by_withdrawal(session: Session, citizen_id: uuid.UUID, department_id: str, *, now: datetime) -> int:
    """How many notifications withdrawing every consent for this organisation would cancel."""
    receipts = [g.receipt_id for g in active_grants(session, citizen_id, now=now) if g.department_id == department_id]
    if not receipts:
        return 0
    return session.scalar(_waiting(citizen_id, receipts)) or 0


def cancelled_by_limit(session: Session, citizen_id: uuid.UUID, department_id: str, keep: Collection[str], *,
                       now: datetime) -> int:
    """How many notifications replacing the standing consent with one for ``keep`` would cancel."""
    receipts = [g.receipt_id for g in active_grants(session, citizen_id, now=now)
                if g.department_id == department_id and g.scope == ConsentScope.STANDING]
    if not receipts:
        return 0
    query = _waiting(citizen_id, receipts).where(Notification.change_type.not_in(list(keep)))
    return session.scalar(query) or 0


def set_standing_consent(
    session: Session,
    *,
    citizen_id: uuid.UUID,
    department: Department,
    change_types: Collection[str],
    expires_at: datetime | None,
    now: datetime,
) -> tuple[ConsentEvent | None, int]:
    """Make the standing consent for ``department`` exactly ``change_types`` until ``expires_at``.

    Returns the new grant's event (None when nothing changed) and how many
    waiting notifications were cancelled because the new consent no longer covers them.
    """
    current = [g for g in active_grants(session, citizen_id, now=now)
               if g.department_id == department.id and g.scope == ConsentScope.STANDING]
    wanted = sorted(set(change_types))
    if len(current) == 1 and sorted(current[0].change_types) == wanted and current[0].expires_at == expires_at:
        return None, 0
    event = grant_consent(session, citizen_id=citizen_id, department=department, change_types=wanted, now=now,
                          scope=ConsentScope.STANDING, expires_at=expires_at)
    if current:
        session.execute(
            update(Notification)
            .where(
                Notification.citizen_id == citizen_id,
                Notification.consent_receipt_id.in_([g.receipt_id for g in current]),
                Notification.state.in_((*CANCELLABLE, NotificationState.DELIVERING)),
                Notification.change_type.in_(wanted),
            )
            .values(consent_receipt_id=event.receipt_id)
            .execution_options(synchronize_session=False)
        )
    cancelled = 0
    for grant in current:
        cancelled += withdraw_consent(session, citizen_id=citizen_id, grant_id=grant.id, now=now)[1]
    return event, cancelled
