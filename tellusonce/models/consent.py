"""Consent the citizen holds: grants, and the append-only events that make and end them."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tellusonce.models.base import Base, UUIDKey


class ConsentScope(StrEnum):
    STANDING = "standing"  # "always tell DVLA when I move"
    ONE_OFF = "one_off"  # "tell them this time", for one report


class ConsentEventKind(StrEnum):
    GRANTED = "granted"
    WITHDRAWN = "withdrawn"


class ConsentGrant(UUIDKey, Base):
    """A permission for one department to receive some change types about one citizen.

    The row records the grant as made; ``withdrawn_at`` is the only field that ever
    changes, and only once. The history lives in ``ConsentEvent``.
    """

    __tablename__ = "consent_grant"
    __table_args__ = (Index("ix_consent_grant_citizen_department", "citizen_id", "department_id"),)

    citizen_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("citizen.id"))
    department_id: Mapped[str] = mapped_column(ForeignKey("department.id"))
    scope: Mapped[str] = mapped_column(String(10))
    change_types: Mapped[list[str]] = mapped_column(JSON)
    report_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("change_report.id"))
    granted_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    withdrawn_at: Mapped[datetime | None]
    # The receipt issued when this grant was made; notifications sent under it carry it.
    receipt_id: Mapped[uuid.UUID] = mapped_column(unique=True)


class ConsentEvent(UUIDKey, Base):
    """Append-only: one row per grant or withdrawal, each with its consent receipt."""

    __tablename__ = "consent_event"
    __table_args__ = (Index("ix_consent_event_citizen_at", "citizen_id", "at"),)

    grant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("consent_grant.id"), index=True)
    citizen_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("citizen.id"))
    department_id: Mapped[str] = mapped_column(ForeignKey("department.id"))
    kind: Mapped[str] = mapped_column(String(10))
    at: Mapped[datetime]
    receipt_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    receipt: Mapped[dict[str, Any]] = mapped_column(JSON)

    # Lets one flush write a grant and its event in the right order.
    grant: Mapped[ConsentGrant] = relationship()
