"""Queue an email: render it in the reader's language and write it to the outbox.

``queue_email`` renders ``templates/email/<template>.txt`` (and ``.html`` when it
exists) with a plain Jinja2 environment and the ``jinja2.ext.i18n`` extension,
backed by the same Babel catalogues as the web pages, so the web app, the mail
listener and the dispatcher all write email the same way without Flask.

The message is only written (flushed) as an ``OutgoingEmail`` row in the
caller's transaction; the outbound sender (``tellusonce mail send``) sends it
later, or in demo and test mode keeps it for ``/dev/mail``. An email therefore
goes out exactly when what caused it is committed.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel.support import NullTranslations, Translations
from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound, select_autoescape
from sqlalchemy import insert
from sqlalchemy.orm import Session

from tellusonce.clock import utcnow
from tellusonce.data.driver import Compiled
from tellusonce.models import OutgoingEmail, OutgoingState
from tellusonce.settings import PROJECT_ROOT

EMAIL_TEMPLATES = PROJECT_ROOT / "templates" / "email"
TRANSLATIONS = PROJECT_ROOT / "tellusonce" / "translations"
LANGUAGES = ("en", "cy")
ATTACHMENT_KEYS = frozenset({"filename", "content_type", "content"})


class EmailTemplateMissing(LookupError):
    """No ``templates/email/<name>.txt``: a programming error, raised before anything is written."""


def translations_for(language: str) -> NullTranslations:
    """Babel translations for ``language``; English (the source strings) when there are none."""
    return _translations(language if language in LANGUAGES else "en")


@lru_cache(maxsize=len(LANGUAGES))
def _translations(language: str) -> NullTranslations:
    return Translations.load(str(TRANSLATIONS), [language], domain="messages")


@lru_cache(maxsize=len(LANGUAGES) * 2)
def email_environment(language: str = "en", directory: Path = EMAIL_TEMPLATES) -> Environment:
    """A Jinja2 environment for email bodies in ``language``: ``_``/``gettext``/``ngettext`` available."""
    env = Environment(
        loader=FileSystemLoader(str(directory)),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False, default=False),
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        # Templates are part of the release, as the pages' are: not looked at again on every email
        # (a stat of each template and what it includes or extends, for every submission).
        auto_reload=False,
    )
    env.install_gettext_translations(translations_for(language), newstyle=True)  # type: ignore[attr-defined]
    return env


def render_email(template: str, context: Mapping[str, Any], *, language: str = "en") -> tuple[str, str | None]:
    """The plain-text body and, if the template has one, the HTML body."""
    env = email_environment(language)
    try:
        text = env.get_template(f"{template}.txt").render(context)
    except TemplateNotFound as e:
        raise EmailTemplateMissing(f"no email template templates/email/{template}.txt") from e
    try:
        html_template = env.get_template(f"{template}.html")
    except TemplateNotFound:
        return text, None
    return text, html_template.render(context)


def translate_subject(subject: str, context: Mapping[str, Any], *, language: str = "en") -> str:
    """Translate a subject marked with ``N_`` and fill in ``%(name)s`` placeholders from ``context``."""
    translated = translations_for(language).gettext(subject)
    if "%(" in translated:
        translated = translated % {k: v for k, v in context.items()}
    return " ".join(translated.split())


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
    flush: bool = True,
) -> OutgoingEmail:
    """Render an email and add it to the outbox in the caller's transaction (flush, no commit).

    ``subject`` is an English message marked with ``N_`` (translated into
    ``language``; ``%(name)s`` placeholders are filled from ``context``).
    ``attachments`` are ``{"filename", "content_type", "content"}`` with text content.
    ``headers`` adds headers such as In-Reply-To and References; every message is
    ``Auto-Submitted: auto-generated`` unless the caller says otherwise (RFC 3834).
    ``flush=False`` leaves the row to the caller's next flush or commit.
    """
    email = OutgoingEmail(**compose_email(to=to, subject=subject, template=template, context=context, purpose=purpose,
                                       language=language, headers=headers, attachments=attachments,
                                       related_id=related_id))
    session.add(email)
    if flush:
        session.flush()
    return email


def insert_email(session: Session, row: Mapping[str, Any]) -> uuid.UUID:
    """Write an email made by ``compose_email`` to the outbox at once, as a plain row in the caller's
    transaction (one statement, no ORM object); its id."""
    _INSERT_EMAIL.rows(session.connection(), row)
    return row["id"]


_INSERT_EMAIL = Compiled(insert(OutgoingEmail.__table__))  # compiled once, run on the transaction's cursor


def compose_email(*, to: str, subject: str, template: str, context: Mapping[str, Any], purpose: str,
                  language: str = "en", headers: Mapping[str, str] | None = None,
                  attachments: Iterable[Mapping[str, str]] = (), related_id: uuid.UUID | None = None) -> dict[str, Any]:
    """An ``outgoing_email`` row, rendered and checked (no line break can smuggle a header in), for
    ``insert_email``: rendering it needs no database, so it can be done before a transaction writes.
    The arguments are ``queue_email``'s."""
    if "\n" in to or "\r" in to:
        raise ValueError("an email address cannot contain a line break")
    body_text, body_html = render_email(template, context, language=language)
    extra = {"Auto-Submitted": "auto-generated"}
    for name, value in (headers or {}).items():
        if "\n" in value or "\r" in value:
            raise ValueError(f"header {name} cannot contain a line break")
        extra[name] = value
    files = [_attachment(a) for a in attachments]
    now = utcnow()
    return {
        "id": uuid.uuid4(), "created_at": now, "purpose": purpose, "to_address": to,
        "subject": translate_subject(subject, context, language=language), "body_text": body_text,
        "body_html": body_html, "headers": extra, "attachments": files, "state": OutgoingState.QUEUED,
        "attempts": 0, "next_attempt_at": now, "sent_at": None, "last_error": None, "related_id": related_id,
    }


def _attachment(attachment: Mapping[str, str]) -> dict[str, str]:
    missing = ATTACHMENT_KEYS - set(attachment)
    if missing:
        raise ValueError(f"attachment lacks {', '.join(sorted(missing))}")
    if not isinstance(attachment["content"], str):
        raise TypeError("attachment content must be text")
    return {key: attachment[key] for key in sorted(ATTACHMENT_KEYS)}
