"""What the citizen has been emailed about each report's outcomes, and whether it is to be looked at again."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, text
from sqlalchemy.orm import Mapped, mapped_column

from tellusonce.models.base import Base

PENDING_SQL = "changed_at IS NOT NULL"


class ReportNotice(Base):
    """One row per report whose notifications reached an outcome (``tellusonce.domain.notices``).

    Whoever moves a notification to such an outcome — the worker recording an attempt, the
    department API's acknowledgement, a consent withdrawal — sets ``changed_at`` (and
    ``first_changed_at`` if it was unset) in the same transaction. The dispatcher's sweep takes the
    rows quiet for long enough, emails what is due, records it in ``told`` and clears both times.
    """

    __tablename__ = "report_notice"
    __table_args__ = (
        # The sweep's read: the rows waiting to be looked at, by when they last changed.
        Index("ix_report_notice_pending", "changed_at", sqlite_where=text(PENDING_SQL),
              postgresql_where=text(PENDING_SQL)),
    )

    # Deleted with its report (the retention schedule also removes it on its own, ``report_notices``).
    report_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("change_report.id", ondelete="CASCADE"), primary_key=True)
    # The last outcome not yet looked at, and the first: a report is looked at once quiet since the
    # last, or once the first has waited long enough whatever comes after it.
    changed_at: Mapped[datetime | None]
    first_changed_at: Mapped[datetime | None]
    # {"all_received": bool, "others_received": bool, "failures": ["<notification id>@<dead at>", ...]}
    told: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, server_default=text("'{}'"))
    # When the last email about this report was queued (None: none yet).
    emailed_at: Mapped[datetime | None]
