"""Organisations that can be told, as loaded from the registry, and their API keys."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, String, Text, false, literal_column
from sqlalchemy.orm import Mapped, mapped_column

from tellusonce.models.base import Base, Timestamped, UUIDKey


class ChannelKind(StrEnum):
    WEBHOOK = "webhook"
    EMAIL = "email"
    FEED = "feed"


class Department(Timestamped, Base):
    __tablename__ = "department"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    controller: Mapped[str] = mapped_column(String(200))
    purpose: Mapped[str] = mapped_column(Text)
    # The name and purpose in Welsh; None where the registry gives none (shown in English).
    name_cy: Mapped[str | None] = mapped_column(String(200))
    purpose_cy: Mapped[str | None] = mapped_column(Text)
    # What the organisation states on the open register, the service's record of recipients: the
    # lawful basis on which it receives what it receives, and how long it keeps it (None: not stated).
    lawful_basis: Mapped[str | None] = mapped_column(Text)
    lawful_basis_cy: Mapped[str | None] = mapped_column(Text)
    retention: Mapped[str | None] = mapped_column(Text)
    retention_cy: Mapped[str | None] = mapped_column(Text)
    channel: Mapped[str] = mapped_column(String(10))
    webhook_url: Mapped[str | None] = mapped_column(String(2000))
    secret_env: Mapped[str | None] = mapped_column(String(100))
    email_address: Mapped[str | None] = mapped_column(String(320))
    allow_private_network: Mapped[bool] = mapped_column(default=False)
    needs_protected_address: Mapped[bool] = mapped_column(default=False)
    # Whether its notifications carry the citizen's preferred language ("cy" or "en"), so that it
    # can write back in Welsh; the registry grants it (``receives_language``).
    receives_language: Mapped[bool] = mapped_column(default=False, server_default=false())
    # {change type: [field, ...]} — exactly what this department receives.
    receives: Mapped[dict[str, list[str]]] = mapped_column(JSON)
    # {change type: "why it needs it"}, shown on the open register.
    reasons: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    # {change type: days}: how long before a change's date it wants to hear of a change reported
    # ahead (the registry's ``notice_days``; a change type not named: 0, on the date itself).
    notice_days: Mapped[dict[str, int]] = mapped_column(JSON, default=dict, server_default="{}")
    contact_url: Mapped[str | None] = mapped_column(String(2000))
    active: Mapped[bool] = mapped_column(default=True)
    # Set when the endpoint answered 410 Gone: delivery stops until an operator re-enables it.
    endpoint_disabled_at: Mapped[datetime | None]
    endpoint_disabled_reason: Mapped[str | None] = mapped_column(Text)
    # Circuit breaker: consecutive failures and when to try again.
    consecutive_failures: Mapped[int] = mapped_column(default=0)
    circuit_open_until: Mapped[datetime | None]
    # One more at every update, by whichever process and whatever its clock says, so that a
    # cached registry can tell it is out of date (``data.departments.registry``).
    revision: Mapped[int] = mapped_column(default=0, server_default="0", onupdate=literal_column("revision") + 1)

    def name_in(self, language: str) -> str:
        """The name a reader of ``language`` sees: the Welsh where there is one, else the English."""
        return self.name_cy if language == "cy" and self.name_cy else self.name

    def purpose_in(self, language: str) -> str:
        return self.purpose_cy if language == "cy" and self.purpose_cy else self.purpose

    @property
    def has_welsh(self) -> bool:
        return bool(self.name_cy and self.purpose_cy)

    def accepts(self, change_type: str) -> bool:
        return self.active and change_type in self.receives

    def notice_for(self, change_type: str) -> int:
        """How many days before a change's date it wants to hear of it (0: on the date)."""
        return int((self.notice_days or {}).get(change_type, 0))

    def fields_for(self, change_type: str) -> list[str]:
        return list(self.receives.get(change_type, []))


class DepartmentApiKey(UUIDKey, Base):
    """A bearer key for the department API. Only a hash is stored; the key is shown once."""

    __tablename__ = "department_api_key"

    department_id: Mapped[str] = mapped_column(ForeignKey("department.id"), index=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(128))
    label: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
