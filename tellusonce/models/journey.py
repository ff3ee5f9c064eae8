"""Report journeys in progress: a citizen's answers kept between the pages of one report."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from tellusonce.models.base import Base


class ReportJourney(Base):
    """One journey: what has been answered so far, until it is sent or a day after its last change.

    ``id`` is the random journey id carried in the signed session cookie; a row is read only
    together with its citizen's id, so a cookie's id never opens another citizen's answers. The
    row is deleted in the transaction that sends the report, and an untouched one is deleted by the
    retention schedule a day after its last change (``config/retention.toml``, ``journeys``).
    """

    __tablename__ = "report_journey"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    citizen_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("citizen.id", ondelete="CASCADE"), index=True)
    # The answers, organisations chosen and consent given, as the web's journey keeps them.
    state: Mapped[dict[str, Any]] = mapped_column(JSON)
    started_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
