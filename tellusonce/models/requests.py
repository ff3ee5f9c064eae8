"""Requests for a data right (access, erasure, rectification) that arrived by email, for a person to answer."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tellusonce.models.base import Base, UUIDKey


class RequestState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class DataRightsRequest(UUIDKey, Base):
    __tablename__ = "data_rights_request"

    inbound_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("inbound_message.id"), unique=True)
    received_at: Mapped[datetime]
    from_address: Mapped[str] = mapped_column(String(320))
    citizen_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("citizen.id"))
    rights: Mapped[list[str]] = mapped_column(JSON)  # tellusonce.domain.data_rights.Right values
    language: Mapped[str] = mapped_column(String(5))  # what the acknowledgement was written in
    due_on: Mapped[date]
    state: Mapped[str] = mapped_column(String(10), default=RequestState.OPEN, index=True)
    closed_at: Mapped[datetime | None]
    closed_by: Mapped[str | None] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text)
