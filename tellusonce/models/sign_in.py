"""Sign-ins: each time someone signed in to an account, or tried to with its address.

Kept so that the citizen can see the sign-ins of the last 30 days (``/account/sign-ins``) and
spot one that was not them. It holds as little as does that job: when, how (password or
emailed link), whether it worked, and the browser's and operating system's families
("Firefox", "Windows") read from the User-Agent. The client's address is not kept, not even
truncated: it would be personal data the citizen cannot read, and the access log has it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from tellusonce.models.base import Base, UUIDKey


class SignInMethod(StrEnum):
    PASSWORD = "password"
    EMAIL_LINK = "email_link"  # confirming the address, or resetting the password, signs in


class SignInEvent(UUIDKey, Base):
    __tablename__ = "sign_in_event"
    __table_args__ = (Index("ix_sign_in_event_citizen_id_at", "citizen_id", "at"),)

    citizen_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("citizen.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    method: Mapped[str] = mapped_column(String(20))
    succeeded: Mapped[bool]
    browser: Mapped[str | None] = mapped_column(String(60))
    system: Mapped[str | None] = mapped_column(String(60))
