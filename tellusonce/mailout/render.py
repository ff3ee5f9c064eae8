"""Rendering an outgoing email: its bodies from its template, context and language, and the message
itself (headers, parts, attachments) as the sender sends it and ``/dev/mail`` shows it.

Bodies are ``templates/email/<template>.txt`` (and ``.html`` when it exists), rendered with a plain
Jinja2 environment and the ``jinja2.ext.i18n`` extension.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel.dates import format_date
from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, TemplateNotFound, select_autoescape

from tellusonce.domain.changetypes import ChangeType
from tellusonce.domain.fields import display_phone
from tellusonce.i18n import BILINGUAL, LANGUAGES, N_, translations_for
from tellusonce.models import OutgoingEmail
from tellusonce.resources import TEMPLATES

EMAIL_TEMPLATES = TEMPLATES / "email"
SENDER_NAME = N_("Tell us once")
# Headers the sender writes itself (or the MIME parts do): an email's own ``headers`` cannot replace them.
FIXED_HEADERS = frozenset({"from", "to", "subject", "date", "message-id", "content-type", "mime-version",
                           "content-transfer-encoding", "content-language", "bcc", "cc"})


class EmailTemplateMissing(LookupError):
    """No ``templates/email/<name>.txt``: a programming error, raised before anything is written."""


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


def text_template(template: str, language: str = "en") -> Template:
    """The plain-text template every email has (loaded once, then the environment's cache);
    EmailTemplateMissing when there is none."""
    try:
        return email_environment(language).get_template(f"{template}.txt")
    except TemplateNotFound as e:
        raise EmailTemplateMissing(f"no email template templates/email/{template}.txt") from e


def render_email(template: str, context: Mapping[str, Any], *, language: str = "en") -> tuple[str, str | None]:
    """The plain-text body and, if the template has one, the HTML body."""
    if language == BILINGUAL:
        return "\n\n* * *\n\n".join(render_email(template, context, language=one)[0] for one in ("cy", "en")), None
    text = text_template(template, language).render(context)
    try:
        html_template = email_environment(language).get_template(f"{template}.html")
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


def sender_name(language: str) -> str:
    """The name the From header gives the service, in the email's language (both for a bilingual one)."""
    if language == BILINGUAL:
        return " / ".join(sender_name(one) for one in ("cy", "en"))
    return translations_for(language).gettext(SENDER_NAME)


def content_language(language: str) -> str:
    """The Content-Language header (RFC 3282) of an email in ``language``: Welsh first when both."""
    return ", ".join(BILINGUAL.split("+")) if language == BILINGUAL else language


def message_headers(email: OutgoingEmail, *, sender_address: str, mail_domain: str) -> list[tuple[str, str]]:
    """The headers of the message sent for ``email``, in order (the body's MIME headers aside).

    The outbound sender writes exactly these, and ``/dev/mail`` shows them, so what a person reads
    in the demo mailbox is what their mail program would show: Reply-To, In-Reply-To and the rest.
    """
    language = email.language or "en"
    headers = [
        ("From", formataddr((sender_name(language), sender_address))),
        ("To", email.to_address),
        ("Subject", email.subject),
        ("Content-Language", content_language(language)),
        ("Date", format_datetime(email.created_at)),
        ("Message-ID", f"<{email.id}@{mail_domain}>"),
        ("X-TellUsOnce", email.purpose),
    ]
    headers += [(name, value) for name, value in (email.headers or {}).items() if name.lower() not in FIXED_HEADERS]
    return headers


Bodies = tuple[str, str | None]  # plain text, HTML


def build_message(email: OutgoingEmail, bodies: Bodies, *, sender_address: str, mail_domain: str) -> EmailMessage:
    """The message sent for ``email`` with ``bodies`` (``rendered_bodies(email)``)."""
    text, html = bodies
    message = EmailMessage()
    headers = message_headers(email, sender_address=sender_address, mail_domain=mail_domain)
    # Content-* headers set before the parts are added would move into the first part; this one is the message's.
    for name, value in headers:
        if name != "Content-Language":
            message[name] = value
    message.set_content(text)
    if html:
        message.add_alternative(html, subtype="html")
    for attachment in email.attachments or []:
        maintype, _, subtype = attachment["content_type"].partition("/")
        message.add_attachment(attachment["content"].encode("utf-8"), maintype=maintype or "application",
                               subtype=subtype or "octet-stream", filename=attachment["filename"])
    message["Content-Language"] = dict(headers)["Content-Language"]
    return message


def format_day(day: date, language: str) -> str:
    """A day as emails write it: "15 November 2026", "15 Tachwedd 2026"."""
    return format_date(day, "d MMMM yyyy", locale=language)


def answer_text(change_type: ChangeType, name: str, value: Any, language: str) -> str:
    """An answer as a person reads it, on a page or in an email, in ``language``: "1 November 2026",
    "Yes", "Marriage", "07911 123456", "Not given"."""
    f = change_type.field(name)
    gettext = translations_for(language).gettext
    if value in (None, ""):
        return gettext("Not given")
    if f.kind == "date":
        try:
            day = value if isinstance(value, date) else date.fromisoformat(value)
        except (TypeError, ValueError):
            return str(value)
        return format_day(day, language)
    if f.kind in ("bool", "declaration"):
        return gettext("Yes") if value is True else gettext("No") if value is False else str(value)
    if f.kind == "choice":
        return next((gettext(text) for v, text in f.choices if v == value), str(value))
    if f.kind == "phone" and isinstance(value, str):
        return display_phone(value)
    return str(value)
