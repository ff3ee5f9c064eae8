"""Queueing an email: checked, then written to the outbox (``outgoing_email``) in the caller's
transaction, to be rendered and sent by the sender once that transaction commits."""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from tellusonce.clock import utcnow
from tellusonce.mailout.render import text_template, translate_subject
from tellusonce.models import OutgoingEmail, OutgoingState

ATTACHMENT_KEYS = frozenset({"filename", "content_type", "content"})


def queue_email(
    session: Session,
    *,
    to: str,
    subject: str,
    template: str,
    context: Mapping[str, Any],
    purpose: str,
    language: str = "en",
    headers: Mapping[str, str] | None = None,
    attachments: Iterable[Mapping[str, str]] = (),
    related_id: uuid.UUID | None = None,
    created_at: datetime | None = None,
    flush: bool = True,
) -> OutgoingEmail:
    """Check an email and add it to the outbox in the caller's transaction (flush, no commit).

    ``subject`` is an English message marked with ``N_`` (translated into
    ``language``; ``%(name)s`` placeholders are filled from ``context``).
    ``context`` is what the template is rendered with when the email is sent: JSON
    (dicts with text keys, lists, text, numbers, booleans, None), stored as it is.
    ``attachments`` are ``{"filename", "content_type", "content"}`` with text content.
    ``headers`` adds headers such as In-Reply-To and References; every message is
    ``Auto-Submitted: auto-generated`` unless the caller says otherwise (RFC 3834).
    ``created_at`` is when the email was caused (the mail listener's replies: when the message was
    processed, which their hourly limits count), now unless given.
    ``flush=False`` leaves the row to the caller's next flush or commit.
    """
    email = OutgoingEmail(**compose_email(to=to, subject=subject, template=template, context=context, purpose=purpose,
                                       language=language, headers=headers, attachments=attachments,
                                       related_id=related_id, created_at=created_at))
    session.add(email)
    if flush:
        session.flush()
    return email


def insert_email(session: Session, row: Mapping[str, Any]) -> uuid.UUID:
    """Write an email made by ``compose_email`` to the outbox at once, as a plain row in the caller's
    transaction (one statement, no ORM object); its id."""
    session.connection().execute(_INSERT_EMAIL, row)
    return row["id"]


_INSERT_EMAIL = insert(OutgoingEmail.__table__)  # type: ignore[arg-type]  # __table__ is declared a FromClause; it is the Table


def compose_email(*, to: str, subject: str, template: str, context: Mapping[str, Any], purpose: str,
                  language: str = "en", headers: Mapping[str, str] | None = None,
                  attachments: Iterable[Mapping[str, str]] = (), related_id: uuid.UUID | None = None,
                  created_at: datetime | None = None) -> dict[str, Any]:
    """An ``outgoing_email`` row, checked, for ``insert_email``; the arguments are ``queue_email``'s.

    Everything that can be checked is checked here, before anything is written: the template
    exists (``EmailTemplateMissing``), the context is JSON and no line break can smuggle a header
    in (``ValueError``). The bodies are not rendered: the sender renders them (``rendered_bodies``).
    Needing no database, this can be done before a transaction writes."""
    if "\n" in to or "\r" in to:
        raise ValueError("an email address cannot contain a line break")
    text_template(template, language)  # EmailTemplateMissing now, not when it is sent
    values = dict(context)
    _require_json(values, "context")
    extra = {"Auto-Submitted": "auto-generated"}
    for name, value in (headers or {}).items():
        if "\n" in value or "\r" in value:
            raise ValueError(f"header {name} cannot contain a line break")
        extra[name] = value
    files = [_attachment(a) for a in attachments]
    now = utcnow()
    return {
        "id": uuid.uuid4(), "created_at": created_at or now, "purpose": purpose, "to_address": to,
        "subject": translate_subject(subject, values, language=language), "template": template,
        "context": values, "language": language, "body_text": None, "body_html": None, "headers": extra,
        "attachments": files, "state": OutgoingState.QUEUED, "attempts": 0, "next_attempt_at": now,
        "sent_at": None, "last_error": None, "related_id": related_id,
    }


def _require_json(value: Any, where: str) -> None:
    """ValueError unless ``value`` is stored as JSON and read back as the same thing.

    Exact types only: a tuple would come back a list, a ``Markup`` plain text (escaped in the
    HTML body, which it was not when queued), a date or a UUID not at all.
    """
    kind = type(value)
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str:
                raise ValueError(f"email {where} has the key {key!r}, which is not text: JSON keys are text")
            _require_json(item, f"{where}[{key!r}]")
    elif kind is list:
        for index, item in enumerate(value):
            _require_json(item, f"{where}[{index}]")
    elif kind is float:
        if not math.isfinite(value):
            raise ValueError(f"email {where} is {value!r}, which JSON cannot hold")
    elif kind not in _JSON_SCALARS:
        raise ValueError(f"email {where} is a {kind.__name__}, which is not JSON: the context is stored to be "
                         "rendered when sent, so pass dicts, lists, text, numbers, booleans or None")


_JSON_SCALARS = (str, int, bool, type(None))


def _attachment(attachment: Mapping[str, str]) -> dict[str, str]:
    missing = ATTACHMENT_KEYS - set(attachment)
    if missing:
        raise ValueError(f"attachment lacks {', '.join(sorted(missing))}")
    if not isinstance(attachment["content"], str):
        raise TypeError("attachment content must be text")
    return {key: attachment[key] for key in sorted(ATTACHMENT_KEYS)}
