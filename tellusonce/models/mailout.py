"""Email the service sends: written in the same transaction as what caused it, rendered and sent later.

A row records what to render (``template``, its ``context`` as JSON, the ``language``); the
outbound sender renders the bodies when it sends or captures the row and stores them, so the
row then shows exactly what went out. Rows written before migration 0003 were rendered when
queued: they have their bodies and no template. An email sent through GOV.UK Notify keeps
Notify's id for it and what Notify's delivery receipts said (migration 0008).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tellusonce.models.base import Base, UUIDKey


class OutgoingState(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    CAPTURED = "captured"  # demo and test mode: kept for /dev/mail instead of sent
    FAILED = "failed"


class OutgoingEmail(UUIDKey, Base):
    __tablename__ = "outgoing_email"
    __table_args__ = (
        Index("ix_outgoing_email_state_due", "state", "next_attempt_at"),
        Index("ix_outgoing_email_to_created", "to_address", "created_at"),
        Index("ix_outgoing_email_provider_id", "provider_id"),
        # Something to send: the bodies, or a template to render them from.
        CheckConstraint("body_text IS NOT NULL OR template IS NOT NULL", name="renderable"),
    )

    created_at: Mapped[datetime]
    purpose: Mapped[str] = mapped_column(String(40))
    to_address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(Text)
    # templates/email/<template>.txt (and .html), rendered with ``context`` in ``language`` when sent.
    template: Mapped[str | None] = mapped_column(String(60))
    context: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    language: Mapped[str | None] = mapped_column(String(8))
    # What was sent: stored by the sender (``tellusonce.mailout.render.rendered_bodies`` reads either).
    body_text: Mapped[str | None] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    # Extra headers: In-Reply-To, References, Auto-Submitted …
    headers: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    # [{"filename", "content_type", "content"}] with text content.
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    state: Mapped[str] = mapped_column(String(10), default=OutgoingState.QUEUED)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    related_id: Mapped[uuid.UUID | None]
    # A provider that reports delivery (GOV.UK Notify): its id for the email, and what its last delivery
    # receipt said (``delivered``, ``permanent-failure`` …), as of when, and when the email was delivered.
    provider_id: Mapped[str | None] = mapped_column(String(64))
    delivery_status: Mapped[str | None] = mapped_column(String(20))
    delivery_status_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
