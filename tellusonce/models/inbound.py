"""Raw inbound email, kept before it is answered 250 and never thrown away."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tellusonce.models.base import Base, UUIDKey


class InboundStatus(StrEnum):
    RECEIVED = "received"  # committed, not yet looked at
    PROCESSED = "processed"  # understood and acted on (report, reply, or deliberately ignored)
    QUARANTINED = "quarantined"  # could not be processed; an operator can see and reprocess it


class InboundMessage(UUIDKey, Base):
    __tablename__ = "inbound_message"
    __table_args__ = (Index("ix_inbound_message_status_received", "status", "received_at"),)

    received_at: Mapped[datetime]
    peer: Mapped[str] = mapped_column(String(100))
    helo: Mapped[str | None] = mapped_column(String(255))
    mail_from: Mapped[str] = mapped_column(String(320))
    rcpt_tos: Mapped[list[str]] = mapped_column(JSON)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int]
    status: Mapped[str] = mapped_column(String(20), default=InboundStatus.RECEIVED)
    status_reason: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[str | None] = mapped_column(String(998))
    from_address: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str | None] = mapped_column(Text)
    authentication: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    report_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("change_report.id"))
    processed_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
