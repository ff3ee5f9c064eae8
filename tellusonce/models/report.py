"""A change of circumstances, reported once."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tellusonce.models.base import Base, Timestamped, UUIDKey
from tellusonce.models.citizen import Citizen, PersonDetails


class Channel(StrEnum):
    WEB = "web"
    EMAIL = "email"


class Subject(StrEnum):
    SELF = "self"
    OTHER = "other"


class ReportState(StrEnum):
    PENDING_CONFIRMATION = "pending_confirmation"
    SUBMITTED = "submitted"
    CANCELLED = "cancelled"


class ChangeReport(UUIDKey, Timestamped, Base):
    __tablename__ = "change_report"
    __table_args__ = (
        UniqueConstraint("citizen_id", "submission_key", name="uq_change_report_submission"),
        Index("ix_change_report_citizen_created", "citizen_id", "created_at"),
        Index("ix_change_report_fingerprint", "citizen_id", "fingerprint"),
    )

    reference: Mapped[str] = mapped_column(String(16), unique=True)
    citizen_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("citizen.id"))
    change_type: Mapped[str] = mapped_column(String(20))
    effective_date: Mapped[date | None]
    subject: Mapped[str] = mapped_column(String(10), default=Subject.SELF)
    subject_person_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("person_details.id"))
    channel: Mapped[str] = mapped_column(String(10))
    submission_key: Mapped[str] = mapped_column(String(64))
    fingerprint: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(30), default=ReportState.SUBMITTED)
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)
    declaration: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # While pending confirmation (email): who to tell and the consent given, kept until confirmed.
    pending_request: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    submitted_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]  # when the citizen cancelled it (state cancelled)

    citizen: Mapped[Citizen] = relationship()
    subject_person: Mapped[PersonDetails | None] = relationship()
