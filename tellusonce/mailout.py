"""Queue an email in the reader's language, and render it when it is sent.

``queue_email`` checks an email and writes it (flushed) as an ``OutgoingEmail``
row in the caller's transaction: the subject, translated and filled in, and what
to render, the template's name, its context (JSON) and the language. The
outbound sender (``tellusonce mail send``) renders the bodies with
``rendered_bodies`` when it sends the row, or in demo and test mode captures it
for ``/dev/mail``, and stores what it rendered in the row. An email therefore
goes out exactly when what caused it is committed, and the request that caused
it does not pay for rendering it; its text is that of the templates when it is
sent.

Bodies are ``templates/email/<template>.txt`` (and ``.html`` when it exists),
rendered with a plain Jinja2 environment and the ``jinja2.ext.i18n`` extension,
backed by the same Babel catalogues as the web pages, so the web app, the mail
listener, the dispatcher and the sender all write email the same way without
Flask.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Mapping
from email.utils import format_datetime, formataddr
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel.support import NullTranslations, Translations
from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound, select_autoescape
from sqlalchemy import insert
from sqlalchemy.orm import Session

from tellusonce.clock import utcnow
from tellusonce.models import OutgoingEmail, OutgoingState
from tellusonce.settings import PROJECT_ROOT

EMAIL_TEMPLATES = PROJECT_ROOT / "templates" / "email"
TRANSLATIONS = PROJECT_ROOT / "tellusonce" / "translations"
LANGUAGES = ("en", "cy")
# An email to someone whose language is not known: the Welsh, then the English (text only).
BILINGUAL = "cy+en"
ATTACHMENT_KEYS = frozenset({"filename", "content_type", "content"})
SENDER_NAME = "Tell us once"
# Headers the sender writes itself (or the MIME parts do): an email's own ``headers`` cannot replace them.
FIXED_HEADERS = frozenset({"from", "to", "subject", "date", "message-id", "content-type", "mime-version",
                           "content-transfer-encoding", "bcc", "cc"})


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
    env.install_gettext_translations(translations_for(language), newstyle=True)  # type: ignore[attr-defined]  # added by the i18n extension
    return env


def render_email(template: str, context: Mapping[str, Any], *, language: str = "en") -> tuple[str, str | None]:
    """The plain-text body and, if the template has one, the HTML body."""
    if language == BILINGUAL:
        return "\n\n* * *\n\n".join(render_email(template, context, language=one)[0] for one in ("cy", "en")), None
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
    if language == BILINGUAL:
        return " / ".join(translate_subject(subject, context, language=one) for one in ("cy", "en"))
    translated = translations_for(language).gettext(subject)
    if "%(" in translated:
        translated = translated % {k: v for k, v in context.items()}
    return " ".join(translated.split())


def rendered_bodies(email: OutgoingEmail) -> tuple[str, str | None]:
    """What ``email`` says: its plain-text body and its HTML body (None without an HTML template).

    The bodies stored in the row once it was sent or captured (and in rows written before
    migration 0003, which were rendered when queued); otherwise its template rendered now, with
    its context, in its language. The sender and ``/dev/mail`` both read an email through this.
    """
    if email.body_text is not None:
        return email.body_text, email.body_html
    if email.template is None:  # ruled out by the table's check (ck_outgoing_email_renderable)
        raise ValueError(f"outgoing email {email.id} has neither a body nor a template")
    return render_email(email.template, email.context or {}, language=email.language or "en")


def message_headers(email: OutgoingEmail, *, sender_address: str, mail_domain: str) -> list[tuple[str, str]]:
    """The headers of the message sent for ``email``, in order (the body's MIME headers aside).

    The outbound sender writes exactly these, and ``/dev/mail`` shows them, so what a person reads
    in the demo mailbox is what their mail program would show: Reply-To, In-Reply-To and the rest.
    """
    headers = [
        ("From", formataddr((SENDER_NAME, sender_address))),
        ("To", email.to_address),
        ("Subject", email.subject),
        ("Date", format_datetime(email.created_at)),
        ("Message-ID", f"<{email.id}@{mail_domain}>"),
        ("X-TellUsOnce", email.purpose),
    ]
    headers += [(name, value) for name, value in (email.headers or {}).items() if name.lower() not in FIXED_HEADERS]
    return headers


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
    """Check an email and add it to the outbox in the caller's transaction (flush, no commit).

    ``subject`` is an English message marked with ``N_`` (translated into
    ``language``; ``%(name)s`` placeholders are filled from ``context``).
    ``context`` is what the template is rendered with when the email is sent: JSON
    (dicts with text keys, lists, text, numbers, booleans, None), stored as it is.
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
    session.connection().execute(_INSERT_EMAIL, row)
    return row["id"]


_INSERT_EMAIL = insert(OutgoingEmail.__table__)  # type: ignore[arg-type]  # __table__ is declared a FromClause; it is the Table


def compose_email(*, to: str, subject: str, template: str, context: Mapping[str, Any], purpose: str,
                  language: str = "en", headers: Mapping[str, str] | None = None,
                  attachments: Iterable[Mapping[str, str]] = (), related_id: uuid.UUID | None = None) -> dict[str, Any]:
    """An ``outgoing_email`` row, checked, for ``insert_email``; the arguments are ``queue_email``'s.

    Everything that can be checked is checked here, before anything is written: the template
    exists (``EmailTemplateMissing``), the context is JSON and no line break can smuggle a header
    in (``ValueError``). The bodies are not rendered: the sender renders them (``rendered_bodies``).
    Needing no database, this can be done before a transaction writes."""
    if "\n" in to or "\r" in to:
        raise ValueError("an email address cannot contain a line break")
    _require_template(template, language)
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
        "id": uuid.uuid4(), "created_at": now, "purpose": purpose, "to_address": to,
        "subject": translate_subject(subject, values, language=language), "template": template,
        "context": values, "language": language, "body_text": None, "body_html": None, "headers": extra,
        "attachments": files, "state": OutgoingState.QUEUED, "attempts": 0, "next_attempt_at": now,
        "sent_at": None, "last_error": None, "related_id": related_id,
    }


def _require_template(template: str, language: str) -> None:
    """EmailTemplateMissing unless the plain-text template exists (loaded once, then the environment's cache)."""
    try:
        email_environment(language).get_template(f"{template}.txt")
    except TemplateNotFound as e:
        raise EmailTemplateMissing(f"no email template templates/email/{template}.txt") from e


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
