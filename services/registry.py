"""The department registry: ``config/departments.toml`` read, checked and loaded.

A registry with a mistake stops start-up with a message naming the line, the
department and the field, with a suggestion where the mistake looks like a typo.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from tellusonce.config_files import read_config
from tellusonce.domain.changetypes import CHANGE_TYPES
from tellusonce.domain.planning import MAX_NOTICE_DAYS
from tellusonce.domain.toml_files import parse_toml
from tellusonce.models import ChannelKind, Department

ID_PATTERN = re.compile(r"^[a-z][a-z0-9-]{1,39}$")
SECRET_ENV_PATTERN = re.compile(r"^[A-Z][A-Z0-9_]{2,99}$")
KEYS = {
    "id", "name", "controller", "purpose", "name_cy", "purpose_cy", "contact_url", "channel", "webhook_url", "secret_env",
    "email", "lawful_basis", "lawful_basis_cy", "retention", "retention_cy", "allow_private_network",
    "needs_protected_address", "receives", "receives_language", "reasons", "notice_days",
}
REQUIRED = ("id", "name", "purpose", "channel", "receives")
# What the organisation states for the open register (the record of recipients), each optional,
# its Welsh only beside its English.
STATED = ("lawful_basis", "retention")


class RegistryError(ValueError):
    """The registry file cannot be used; the message says where and why."""


@dataclass(frozen=True)
class DepartmentEntry:
    id: str
    name: str
    controller: str
    purpose: str
    channel: str
    receives: dict[str, list[str]]
    reasons: dict[str, str]
    # {change type: days before its date this department wants to hear of a change reported ahead}.
    notice_days: dict[str, int] = field(default_factory=dict)
    webhook_url: str | None = None
    secret_env: str | None = None
    email: str | None = None
    contact_url: str | None = None
    allow_private_network: bool = False
    needs_protected_address: bool = False
    receives_language: bool = False
    # In Welsh, where the registry gives them; without them Welsh pages show the English.
    name_cy: str | None = None
    purpose_cy: str | None = None
    # As the organisation states them: the lawful basis for receiving, how long it keeps (None: not stated).
    lawful_basis: str | None = None
    lawful_basis_cy: str | None = None
    retention: str | None = None
    retention_cy: str | None = None


@dataclass(frozen=True)
class Registry:
    path: Path
    departments: tuple[DepartmentEntry, ...] = field(default_factory=tuple)

    def plain_http_webhooks(self) -> list[str]:
        """The webhook departments whose URL is not https:// (production sends them nothing)."""
        return [entry.id for entry in self.departments
                if entry.channel == "webhook" and not (entry.webhook_url or "").startswith("https://")]

    def get(self, department_id: str) -> DepartmentEntry:
        for entry in self.departments:
            if entry.id == department_id:
                return entry
        raise KeyError(department_id)


def load_registry(path: Path, *, receiver_url: str = "http://127.0.0.1:5001") -> Registry:
    """Read and check the registry. ``{receiver_url}`` in a webhook URL becomes ``receiver_url``."""
    document, lines = parse_toml(read_config(path, "the department registry", RegistryError), path, RegistryError)
    checker = _Checker(path, lines)
    unknown_top = sorted(set(document) - {"department"})
    if unknown_top:
        checker.fail(None, unknown_top[0], f"unknown table {unknown_top[0]!r}; the registry holds [[department]] tables only")
    tables = document.get("department")
    if not isinstance(tables, list) or not tables:
        raise RegistryError(f"{path}: no [[department]] tables found.")
    entries: list[DepartmentEntry] = []
    seen: set[str] = set()
    for index, table in enumerate(tables, start=1):
        entry = checker.department(index, table, receiver_url)
        if entry.id in seen:
            checker.fail(entry.id, "id", f"the id {entry.id!r} is used by more than one department")
        seen.add(entry.id)
        entries.append(entry)
    return Registry(path, tuple(entries))


class _Checker:
    def __init__(self, path: Path, lines: Sequence[str]) -> None:
        self.path = path
        self.lines = lines

    def line_of(self, department_id: str | None, key: str) -> int | None:
        start = 0
        if department_id:
            marker = re.compile(rf"^\s*id\s*=\s*[\"']{re.escape(department_id)}[\"']")
            start = next((i for i, line in enumerate(self.lines) if marker.match(line)), 0)
            # Search back to the start of this [[department]] table too.
            while start > 0 and not self.lines[start].strip().startswith("[[department]]"):
                start -= 1
        pattern = re.compile(rf"^\s*(\[department\.)?{re.escape(key)}\]?\s*(=|$)|^\s*\"?{re.escape(key)}\"?\s*=")
        for i in range(start, len(self.lines)):
            if i > start and self.lines[i].strip().startswith("[[department]]"):
                break
            if pattern.match(self.lines[i]):
                return i + 1
        return None

    def fail(self, department_id: str | None, key: str, problem: str, *, within: str | None = None) -> NoReturn:
        """Stop on ``problem`` with ``key``; ``within``: the key is in that sub-table (``[department.within]``)."""
        line = self.line_within(department_id, within, key) if within else None
        line = line or self.line_of(department_id, key)
        where = f"{self.path}:{line}" if line else str(self.path)
        who = f"department {department_id!r}" if department_id else "registry"
        raise RegistryError(f"{where}: {who}, field {key!r}: {problem}.")

    def line_within(self, department_id: str | None, table: str, key: str) -> int | None:
        """The line of ``key`` in the department's ``[department.<table>]``, if it is written there."""
        header = self.line_of(department_id, table)
        if header is None:
            return None
        pattern = re.compile(rf"^\s*\"?{re.escape(key)}\"?\s*=")
        for i in range(header, len(self.lines)):
            if self.lines[i].strip().startswith("["):
                break
            if pattern.match(self.lines[i]):
                return i + 1
        return None

    def department(self, index: int, table: Any, receiver_url: str) -> DepartmentEntry:
        if not isinstance(table, dict):
            raise RegistryError(f"{self.path}: department number {index} is not a table.")
        ident = self._check_fields(index, table)
        channel = table["channel"]
        if channel not in {c.value for c in ChannelKind}:
            self.fail(ident, "channel", f"must be one of webhook, email, feed{_suggest(str(channel), [c.value for c in ChannelKind])}")
        receives = self._receives(ident, table["receives"])
        reasons = self._reasons(ident, table.get("reasons", {}), receives)
        notice_days = self._notice_days(ident, table.get("notice_days", {}), receives)
        webhook_url = table.get("webhook_url")
        if channel == "webhook":
            webhook_url = self._webhook(ident, table, receiver_url)
        elif channel == "email":
            if not table.get("email") or "@" not in table["email"]:
                self.fail(ident, "email", "an email department needs an email address")
        return DepartmentEntry(
            id=ident,
            name=table["name"].strip(),
            controller=(table.get("controller") or table["name"]).strip(),
            purpose=table["purpose"].strip(),
            name_cy=_stripped(table.get("name_cy")),
            purpose_cy=_stripped(table.get("purpose_cy")),
            lawful_basis=_stripped(table.get("lawful_basis")),
            lawful_basis_cy=_stripped(table.get("lawful_basis_cy")),
            retention=_stripped(table.get("retention")),
            retention_cy=_stripped(table.get("retention_cy")),
            channel=channel,
            receives=receives,
            reasons={k: v.strip() for k, v in reasons.items()},
            notice_days=notice_days,
            webhook_url=webhook_url if channel == "webhook" else None,
            secret_env=table.get("secret_env") if channel == "webhook" else None,
            email=table.get("email") if channel == "email" else None,
            contact_url=table.get("contact_url"),
            allow_private_network=table.get("allow_private_network", False),
            needs_protected_address=table.get("needs_protected_address", False),
            receives_language=table.get("receives_language", False),
        )

    def _check_fields(self, index: int, table: dict[str, Any]) -> str:
        """The department's id, once every field is known, present where required and of its type."""
        ident = table.get("id")
        label = ident if isinstance(ident, str) else None
        for key in table:
            if key not in KEYS:
                self.fail(label, key, f"unknown field{_suggest(key, KEYS)}")
        for key in REQUIRED:
            if key not in table:
                raise RegistryError(
                    f"{self.path}: department {label or f'number {index}'!r} is missing the field {key!r}."
                )
        if not isinstance(ident, str) or not ID_PATTERN.match(ident):
            self.fail(label, "id", "must be lower-case letters, digits and hyphens, starting with a letter")
        for key in ("name", "purpose", "name_cy", "purpose_cy", "controller", "contact_url", "webhook_url", "secret_env",
                    "email", *STATED, *(f"{key}_cy" for key in STATED)):
            if key in table and (not isinstance(table[key], str) or not table[key].strip()):
                self.fail(ident, key, "must be a non-empty string")
        for key in STATED:
            if f"{key}_cy" in table and key not in table:
                self.fail(ident, f"{key}_cy", f"is the Welsh of {key!r}, which is missing: give the English too")
        for key in ("allow_private_network", "needs_protected_address", "receives_language"):
            if key in table and not isinstance(table[key], bool):
                self.fail(ident, key, "must be true or false")
        return ident

    def _reasons(self, ident: str, reasons: Any, receives: dict[str, list[str]]) -> dict[str, str]:
        """One reason for each change type received, and none for another."""
        if not isinstance(reasons, dict):
            self.fail(ident, "reasons", "must be a table of change type = \"why\"")
        for change_type in receives:
            if not isinstance(reasons.get(change_type), str) or not reasons[change_type].strip():
                self.fail(ident, "reasons", f"say why this department needs {change_type!r} changes (reasons.{change_type})")
        for change_type in reasons:
            if change_type not in receives:
                self.fail(ident, "reasons", f"gives a reason for {change_type!r}, which this department does not receive")
        return reasons

    def _notice_days(self, ident: str, notice: Any, receives: dict[str, list[str]]) -> dict[str, int]:
        """Days of notice, each for a change type received that can be reported ahead of its date."""
        if not isinstance(notice, dict):
            self.fail(ident, "notice_days", "must be a table of change type = days")
        for change_type, days in notice.items():
            if change_type not in receives:
                self.fail(ident, change_type, f"gives notice days for {change_type!r}, which this department does not receive",
                          within="notice_days")
            if CHANGE_TYPES[change_type].effective_date is None:
                self.fail(ident, change_type, f"{change_type!r} changes have no date to give notice of", within="notice_days")
            if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= MAX_NOTICE_DAYS:
                self.fail(ident, change_type, f"must be a whole number of days from 0 (on the date) to {MAX_NOTICE_DAYS}",
                          within="notice_days")
        return dict(notice)

    def _webhook(self, ident: str, table: dict[str, Any], receiver_url: str) -> str:
        """A webhook department's URL, with ``{receiver_url}`` filled in, once it and its secret's name are usable."""
        webhook_url = table.get("webhook_url")
        if not webhook_url:
            self.fail(ident, "webhook_url", "a webhook department needs a webhook_url")
        webhook_url = webhook_url.replace("{receiver_url}", receiver_url.rstrip("/"))
        parts = urlsplit(webhook_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            self.fail(ident, "webhook_url", "must be an http or https URL")
        if not table.get("secret_env"):
            self.fail(ident, "secret_env", "a webhook department needs the name of the environment variable holding its whsec_ signing secret")
        if not SECRET_ENV_PATTERN.match(table["secret_env"]):
            self.fail(ident, "secret_env", "must be an environment variable name, like TELLUSONCE_WEBHOOK_SECRET_DVLA")
        return str(webhook_url)

    def _receives(self, ident: str, receives: Any) -> dict[str, list[str]]:
        if not isinstance(receives, dict) or not receives:
            self.fail(ident, "receives", "must list, for each change type, the fields this department receives")
        result: dict[str, list[str]] = {}
        for change_type, names in receives.items():
            if change_type not in CHANGE_TYPES:
                self.fail(ident, change_type, f"unknown change type{_suggest(change_type, CHANGE_TYPES)}; known: {', '.join(CHANGE_TYPES)}")
            if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
                self.fail(ident, change_type, "must be a non-empty list of field names")
            known = CHANGE_TYPES[change_type].field_names
            for name in names:
                if name not in known:
                    self.fail(ident, change_type, f"{name!r} is not a field of {change_type!r} changes{_suggest(name, known)}")
            if len(set(names)) != len(names):
                self.fail(ident, change_type, "lists a field twice")
            result[change_type] = list(names)
        return result


def _stripped(value: str | None) -> str | None:
    return value.strip() if value is not None else None


def _suggest(word: str, choices: Any) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def sync_registry(session: Session, registry: Registry) -> list[str]:
    """Make the department table match the registry; departments removed become inactive.

    Departments are never deleted: their notifications and consents refer to them.
    Returns a line per change, for the operator.
    """
    existing = {d.id: d for d in session.scalars(select(Department))}
    changes: list[str] = []
    for entry in registry.departments:
        department = existing.pop(entry.id, None)
        if department is None:
            department = Department(id=entry.id)
            session.add(department)
            changes.append(f"added {entry.id}")
        values = {
            "name": entry.name,
            "controller": entry.controller,
            "purpose": entry.purpose,
            "name_cy": entry.name_cy,
            "purpose_cy": entry.purpose_cy,
            "lawful_basis": entry.lawful_basis,
            "lawful_basis_cy": entry.lawful_basis_cy,
            "retention": entry.retention,
            "retention_cy": entry.retention_cy,
            "channel": entry.channel,
            "webhook_url": entry.webhook_url,
            "secret_env": entry.secret_env,
            "email_address": entry.email,
            "contact_url": entry.contact_url,
            "allow_private_network": entry.allow_private_network,
            "needs_protected_address": entry.needs_protected_address,
            "receives": entry.receives,
            "receives_language": entry.receives_language,
            "reasons": entry.reasons,
            "notice_days": entry.notice_days,
            "active": True,
        }
        changed = [k for k, v in values.items() if getattr(department, k, None) != v]
        for key in changed:
            setattr(department, key, values[key])
        if changed and f"added {entry.id}" not in changes:
            changes.append(f"updated {entry.id}: {', '.join(changed)}")
    for department in existing.values():
        if department.active:
            department.active = False
            changes.append(f"deactivated {department.id} (no longer in the registry)")
    session.flush()
    return changes
