"""The email channel: a readable summary for a person, the CloudEvent attached for a system.

Queueing the email is the delivery: it is written to the outbound mail outbox in
the same transaction that records the attempt, and the outbound sender takes it
from there (with its own retries). The department acknowledges through the API.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from tellusonce.domain.changetypes import get_change_type
from tellusonce.domain.events import CONTENT_TYPE, event_type_and_schema
from tellusonce.i18n import N_, translations_for
from tellusonce.mailout.queue import queue_email
from tellusonce.mailout.render import answer_text
from tellusonce.models import Department, NotificationKind, OutgoingEmail

PURPOSE = "department_notification"
SUBJECT = N_("Change of circumstances %(reference)s: %(change)s")
CANCELLED_SUBJECT = N_("Cancelled: change of circumstances %(reference)s: %(change)s")
CORRECTED_SUBJECT = N_("Corrected: change of circumstances %(reference)s: %(change)s")
CLOSED_SUBJECT = N_("Account closed: changes of circumstances you were sent")


def summary_fields(change_type: str, payload: Mapping[str, Any], *, language: str = "en") -> list[list[str]]:
    """[label, value] for each field the department receives, in the change type's order, each answer
    as the citizen read it (lists, as the email's context is stored as JSON)."""
    kind = get_change_type(change_type)
    gettext = translations_for(language).gettext
    rows = [[gettext(f.label), answer_text(kind, f.name, payload[f.name], language)]
            for f in kind.fields if payload.get(f.name) not in (None, "")]
    if payload.get("protected_address"):
        rows.append([gettext(N_("Protected address")),
                     gettext(N_("Yes: the person's address is protected. Do not disclose it."))])
    return rows


def corrected_fields(change_type: str, payload: Mapping[str, Any], *, language: str = "en") -> list[list[str]]:
    """[label, new value] for each field a correction changes, in the change type's order; an answer
    no longer given says so, and a change to whether the address is protected is spelled out."""
    kind = get_change_type(change_type)
    gettext = translations_for(language).gettext
    rows = [[gettext(f.label), answer_text(kind, f.name, payload[f.name], language)
             if payload[f.name] not in (None, "") else gettext(N_("No longer given"))]
            for f in kind.fields if f.name in payload and f.name != "protected_address"]
    if "protected_address" in payload:
        rows.append([gettext(N_("Protected address")),
                     gettext(N_("Yes: the person's address is protected. Do not disclose it.")) if payload[
                         "protected_address"] else gettext(N_("No: the person's address is no longer protected."))])
    return rows


def queue_department_email(
    session: Session,
    *,
    department: Department,
    notification_id: uuid.UUID,
    change_type: str,
    reference: str,
    payload: Mapping[str, Any],
    consent_receipt_id: uuid.UUID,
    created_at: datetime,
    event_body: bytes,
    base_url: str,
    kind: str = NotificationKind.CHANGE,
) -> OutgoingEmail:
    """The department's email for a notification: the change; or (``kind`` cancellation) word that
    the change a notification told of is cancelled, naming that notification and nothing more; or
    (``kind`` correction) the details of it that changed, naming that notification; or (``kind``
    account_closed) word that the account closed, naming the reports it was sent."""
    if not department.email_address:
        raise ValueError(f"department {department.id} has no email address")
    filename = f"tellusonce-{notification_id}.json"
    language = "en"
    cancelled = kind == NotificationKind.CANCELLATION
    corrected = kind == NotificationKind.CORRECTION
    closed = kind == NotificationKind.ACCOUNT_CLOSED
    gettext = translations_for(language).gettext
    change_label = gettext(get_change_type(change_type).label)
    context = {
        "change": change_label,
        "change_label": change_label,
        "department_name": department.name,
        "reference": reference,
        "notification_id": str(notification_id),
        "reported": created_at.strftime("%d %B %Y %H:%M UTC"),
        "fields": [] if cancelled or closed else corrected_fields(change_type, payload, language=language)
        if corrected else summary_fields(change_type, payload, language=language),
        "consent_receipt_id": str(consent_receipt_id),
        "filename": filename,
        "ack_url": f"{base_url.rstrip('/')}/api/v1/notifications/{notification_id}/ack",
        "dataschema": event_type_and_schema(change_type, base_url, kind)[1],
    }
    subject, template = SUBJECT, "department_notification"
    if cancelled or corrected:
        context["original_notification_id"] = str(payload.get("original_notification_id", ""))
    if cancelled:
        subject, template = CANCELLED_SUBJECT, "department_cancellation"
    if corrected:
        subject, template = CORRECTED_SUBJECT, "department_correction"
    if closed:
        context["account_id"] = str(payload.get("account_id", ""))
        context["report_references"] = [str(r) for r in payload.get("report_references", [])]
        subject, template = CLOSED_SUBJECT, "department_account_closed"
    return queue_email(
        session,
        to=department.email_address,
        subject=subject,
        template=template,
        context=context,
        purpose=PURPOSE,
        language=language,
        headers={"X-TellUsOnce-Notification": str(notification_id)},
        attachments=[{"filename": filename, "content_type": CONTENT_TYPE, "content": event_body.decode("utf-8")}],
        related_id=notification_id,
    )
