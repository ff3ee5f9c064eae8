"""Replies to email: threaded (In-Reply-To, References), marked ``Auto-Submitted:
auto-replied`` (RFC 3834), rate limited, and written from ``templates/email/``
through gettext in the citizen's language."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from tellusonce.application.intake import RecipientPlan, RecipientStatus
from tellusonce.clock import uk_date
from tellusonce.data.mailout import emails_sent_to
from tellusonce.domain.changetypes import CHANGE_TYPES, ChangeType
from tellusonce.i18n import N_, translations_for
from tellusonce.mailout.queue import queue_email
from tellusonce.mailout.render import answer_text, format_day
from tellusonce.models import Department, OutgoingEmail
from tellusonce.settings import Settings
from tellusonce_mail.mime import ReadMessage

# What the mail listener sends, by purpose; all of them count towards the hourly limit.
CONFIRM = "mail_confirm_change"
PROBLEMS = "mail_problems"
UNKNOWN_SENDER = "mail_unknown_sender"
DUPLICATE = "mail_duplicate"
NOT_CONFIRMED = "mail_not_confirmed"
CONFIRMED = "mail_confirmed"
DATA_RIGHTS = "mail_data_rights_received"
REPLY_PURPOSES = (CONFIRM, PROBLEMS, UNKNOWN_SENDER, DUPLICATE, NOT_CONFIRMED, CONFIRMED, DATA_RIGHTS)
MAX_REPLIES_PER_HOUR = 5
UNKNOWN_SENDER_EVERY = timedelta(days=1)

SUBJECTS = {
    CONFIRM: N_("Confirm the change you emailed: %(reference)s"),
    PROBLEMS: N_("We could not take the change you emailed"),
    UNKNOWN_SENDER: N_("Report a change by email"),
    DUPLICATE: N_("You have already told us about this change"),
    NOT_CONFIRMED: N_("Your change has not been confirmed"),
    CONFIRMED: N_("Change reported: %(reference)s"),
    DATA_RIGHTS: N_("We have your request about your data"),
}
_MESSAGE_ID = re.compile(r"<[^<>\s\"]{1,250}>")
_SHORT_NAME = re.compile(r"\(([^()]{2,12})\)\s*$")


def may_reply(session: Session, address: str, *, now: datetime) -> bool:
    """At most a few replies an hour to one address, whatever it sends us."""
    sent = emails_sent_to(session, address, purposes=REPLY_PURPOSES, since=now - timedelta(hours=1))
    return sent < MAX_REPLIES_PER_HOUR


def may_explain_registration(session: Session, address: str, *, now: datetime) -> bool:
    """The "how to register" reply goes to one address at most once a day."""
    return emails_sent_to(session, address, purposes=(UNKNOWN_SENDER,), since=now - UNKNOWN_SENDER_EVERY) == 0


def thread_headers(read: ReadMessage, *, reply_to: str | None = None) -> dict[str, str]:
    """Headers that make our email a reply to theirs, and mark it as automatic."""
    headers = {"Auto-Submitted": "auto-replied", "X-Auto-Response-Suppress": "All"}
    message_id = _MESSAGE_ID.search(read.message_id or "")
    if message_id:
        earlier = [m for m in read.references if m != message_id.group(0)][-9:]
        headers["In-Reply-To"] = message_id.group(0)
        headers["References"] = " ".join([*earlier, message_id.group(0)])
    if reply_to:
        headers["Reply-To"] = reply_to
    return headers


def queue_reply(
    session: Session, *, settings: Settings, read: ReadMessage, to: str, purpose: str, template: str,
    context: Mapping[str, Any], now: datetime, language: str = "en", reply_to: str | None = None,
    related_id: Any = None,
) -> OutgoingEmail:
    full = {"service_address": settings.service_address, **context}
    return queue_email(
        session, to=to, subject=SUBJECTS[purpose], template=template, context=full, purpose=purpose,
        language=language, headers=thread_headers(read, reply_to=reply_to), related_id=related_id,
        created_at=now,  # the moment the message was processed: what the reply limits count
    )


def recipient_rows(change_type: ChangeType, data: Mapping[str, Any], outcomes: Sequence[RecipientPlan],
                   language: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Who will be told what ([label, value]: the email's context is stored as JSON), and the names of
    those who will not be told."""
    gettext = translations_for(language).gettext
    told = []
    not_told = []
    for outcome in outcomes:
        if outcome.status == RecipientStatus.QUEUED:
            rows = [[gettext(change_type.field(n).label), answer_text(change_type, n, data[n], language)]
                    for n in outcome.fields if n in data]
            # Planned for the date of the change: the day it will be sent (``domain.planning``).
            when = format_day(uk_date(outcome.planned_for), language) if outcome.planned_for else None
            told.append({"name": outcome.department.name_in(language), "rows": rows, "when": when})
        elif outcome.status in (RecipientStatus.NEEDS_CONSENT, RecipientStatus.NOT_HANDLED):
            not_told.append(outcome.department.name_in(language))
    return told, not_told


def short_name(department: Department) -> str:
    """"Driver and Vehicle Licensing Agency (DVLA)" -> "DVLA"; otherwise the name."""
    match = _SHORT_NAME.search(department.name)
    return match.group(1) if match else department.name


def blank_template(change_type: ChangeType | None, departments: Sequence[Department], *, language: str = "en",
                   own_details_known: bool = True) -> str:
    """The layout to copy into an email, for one change or (``None``) for moving home with the others named.

    ``own_details_known``: whether the account has the reporter's own details, so they may be left blank.
    """
    gettext = translations_for(language).gettext
    lines: list[str] = []
    if change_type is None:
        names = ", ".join(gettext(ct.label).lower() for ct in CHANGE_TYPES.values())
        lines.append("[" + gettext("The changes you can report: %(names)s.") % {"names": names} + "]")
        change_type = CHANGE_TYPES["address"]
    change, tell = gettext("Change"), gettext("Tell")  # outside the f-strings, where pybabel finds them
    lines.append(f"{change}: {gettext(change_type.label)}")
    own = [f for f in change_type.fields if f.profile]
    if own and own_details_known:
        lines.append("[" + gettext("You can leave your own details blank: we use the ones in your account") + "]")
    for f in change_type.fields:
        label = gettext(f.label)
        if f.kind == "choice":
            lines.append("[" + gettext("One of: %(choices)s") % {
                "choices": ", ".join(gettext(text) for _, text in f.choices)} + "]")
        elif f.kind == "bool":
            label += " (" + gettext("yes or no") + ")"
        elif f.kind == "declaration":
            label += " (" + gettext("yes") + ")"
        if f.kind == "bool" and f.default is False:
            label += " (" + gettext("no if you leave it out") + ")"
        elif not f.required and (f not in own or not own_details_known):
            label += " (" + gettext("optional") + ")"
        lines.append(f"{label}: ")
        if own and f is own[-1] and not change_type.about_someone_else:
            lines.append("")
    accepting = [short_name(d) for d in departments if d.accepts(change_type.id)]
    lines.append("")
    lines.append(f"{tell}: ")
    if accepting:
        lines.append("[" + gettext("Who you can tell: %(names)s") % {"names": ", ".join(accepting)} + "]")
    return "\n".join(lines)
