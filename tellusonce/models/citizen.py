"""Citizens, the people they report about, and single-use tokens sent by email."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, true
from sqlalchemy.orm import Mapped, mapped_column

from tellusonce.models.base import Base, Timestamped, UUIDKey


class Citizen(UUIDKey, Timestamped, Base):
    __tablename__ = "citizen"
    __table_args__ = (CheckConstraint("language IN ('en', 'cy')", name="language"),)

    email: Mapped[str] = mapped_column(String(320), unique=True)
    email_verified_at: Mapped[datetime | None]
    password_hash: Mapped[str | None] = mapped_column(String(255))
    given_names: Mapped[str | None] = mapped_column(String(200))
    family_name: Mapped[str | None] = mapped_column(String(200))
    date_of_birth: Mapped[date | None]
    ni_number: Mapped[str | None] = mapped_column(String(9))
    address_line_1: Mapped[str | None] = mapped_column(String(200))
    address_line_2: Mapped[str | None] = mapped_column(String(200))
    town: Mapped[str | None] = mapped_column(String(100))
    postcode: Mapped[str | None] = mapped_column(String(8))
    phone: Mapped[str | None] = mapped_column(String(32))
    # The language we write to them in (Welsh Language Standard 2): asked when the account is
    # made, changeable in Your details or by the language link while signed in. Pages follow it
    # after the visitor's explicit choice; every email to them is written in it.
    language: Mapped[str] = mapped_column(String(5), default="en", server_default="en")
    # Flask's session is a signed cookie the server cannot delete: each cookie carries the
    # version it was issued under, and signing out or resetting the password bumps it, so
    # every older cookie stops working.
    session_version: Mapped[int] = mapped_column(default=0, server_default="0")
    # Whether we email them when every organisation has a report, or one could not be told
    # (Your details; on unless they turn it off). docs/reporting-on-the-web.md.
    report_emails: Mapped[bool] = mapped_column(default=True, server_default=true())
    # Closing the account (tellusonce.application.closing): when it was closed (it can no longer be
    # signed in to, and its address is free), and when the retention run had blanked all it held.
    closed_at: Mapped[datetime | None]
    erased_at: Mapped[datetime | None]

    @property
    def is_verified(self) -> bool:
        return self.email_verified_at is not None

    @property
    def is_closed(self) -> bool:
        return self.closed_at is not None


class PersonDetails(UUIDKey, Timestamped, Base):
    """Details a reporter gave about someone else: the person who died, a child born."""

    __tablename__ = "person_details"

    reported_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("citizen.id"), index=True)
    given_names: Mapped[str] = mapped_column(String(200))
    family_name: Mapped[str] = mapped_column(String(200))
    date_of_birth: Mapped[date | None]
    date_of_death: Mapped[date | None]
    ni_number: Mapped[str | None] = mapped_column(String(9))
    address: Mapped[str | None] = mapped_column(Text)
    relationship: Mapped[str] = mapped_column(String(100))


class TokenPurpose(StrEnum):
    VERIFY_EMAIL = "verify_email"
    RESET_PASSWORD = "reset_password"
    CONFIRM_EMAILED_CHANGE = "confirm_emailed_change"
    CHANGE_EMAIL = "change_email"  # sent to the new address; carries it in ``new_email``


class EmailToken(UUIDKey, Base):
    """A single-use, expiring secret sent to a citizen's address. Only its hash is kept."""

    __tablename__ = "email_token"

    citizen_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("citizen.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(40))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    report_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("change_report.id"))
    # A change of address: the address (canonical form) that following the link gives the account.
    new_email: Mapped[str | None] = mapped_column(String(320))
