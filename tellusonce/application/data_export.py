"""A citizen's download of everything held about them (UK GDPR Art. 15): one ZIP file.

``data.json`` holds the account, the people reported about, every report with its answers and
what each organisation was sent and when, every consent with its receipts, every email sent to
the citizen, the emails they sent (each also as the ``.eml`` file it arrived as, under
``emails-you-sent/``), and the account's audit events (sign-ins among them). ``README.txt``
says what each part is, in the account's language. The format is documented in
docs/account-details.md#download-your-data; ``format`` names its version.
"""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from tellusonce.data.held import Held, held_about
from tellusonce.i18n import translations_for
from tellusonce.models import Citizen

FORMAT = "tellusonce-your-data/1"
ACCOUNT_FIELDS = ("email", "email_verified_at", "created_at", "language", "given_names", "family_name",
                  "date_of_birth", "ni_number", "address_line_1", "address_line_2", "town", "postcode", "phone")


def _value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _row(row: Any, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: _value(getattr(row, name)) for name in names}


def eml_name(message: Any) -> str:
    """The file in the ZIP holding an email the citizen sent, as it arrived."""
    return f"emails-you-sent/{message.received_at:%Y-%m-%dT%H%M%S}-{message.id}.eml"


def your_data(held: Held, *, produced_at: datetime) -> dict[str, Any]:
    """``held`` as the machine-readable document ``data.json`` is."""
    attempts: dict[Any, list[dict[str, Any]]] = {}
    for a in held.attempts:
        attempts.setdefault(a.notification_id, []).append(
            _row(a, ("number", "started_at", "finished_at", "outcome", "status_code", "error")))
    told: dict[Any, list[dict[str, Any]]] = {}
    for n in held.notifications:
        department = held.departments.get(n.department_id)
        told.setdefault(n.report_id, []).append({
            "id": str(n.id),
            "organisation": {"id": n.department_id, "name": department.name if department else n.department_id},
            "state": n.state,
            "details_sent_or_to_send": n.payload,
            "consent_receipt_id": str(n.consent_receipt_id),
            **_row(n, ("created_at", "delivered_at", "acknowledged_at", "dead_at", "cancelled_at")),
            "delivery_attempts": attempts.get(n.id, []),
        })
    references: dict[uuid.UUID | None, str] = {r.id: r.reference for r in held.reports}
    events: dict[Any, list[dict[str, Any]]] = {}
    for e in held.consent_events:
        events.setdefault(e.grant_id, []).append(
            {"kind": e.kind, "at": _value(e.at), "receipt_id": str(e.receipt_id), "receipt": e.receipt})
    return {
        "format": FORMAT,
        "produced_at": produced_at.isoformat(),
        "account": _row(held.citizen, ACCOUNT_FIELDS),
        "people_you_reported_about": [
            {"id": str(p.id), **_row(p, ("given_names", "family_name", "date_of_birth", "date_of_death", "ni_number",
                                         "address", "relationship", "created_at"))} for p in held.people],
        "reports": [{
            "reference": r.reference,
            "change_type": r.change_type,
            "channel": r.channel,
            "state": r.state,
            "about": r.subject,
            "about_person_id": str(r.subject_person_id) if r.subject_person_id else None,
            **_row(r, ("created_at", "submitted_at", "effective_date")),
            "answers": r.answers,
            "declaration": r.declaration,
            "organisations": told.get(r.id, []),
        } for r in held.reports],
        "consents": [{
            "organisation": g.department_id,
            "scope": g.scope,
            "change_types": g.change_types,
            "report_reference": references.get(g.report_id),
            "receipt_id": str(g.receipt_id),
            **_row(g, ("granted_at", "expires_at", "withdrawn_at")),
            "events": events.get(g.id, []),
        } for g in held.grants],
        "emails_sent_to_you": [{
            "id": str(m.id),
            **_row(m, ("created_at", "sent_at", "state", "purpose", "to_address", "subject", "language")),
            # The words as sent; an email not sent yet is held as its template and what fills it in.
            "body_text": m.body_text,
            "body_html": m.body_html,
            "template": m.template if m.body_text is None else None,
            "template_context": m.context if m.body_text is None else None,
        } for m in held.emails_sent],
        "emails_you_sent": [{
            "id": str(m.id),
            **_row(m, ("received_at", "from_address", "subject", "status", "status_reason", "processed_at")),
            "report_reference": references.get(m.report_id),
            "file": eml_name(m),
        } for m in held.emails_received],
        "account_events": [{"at": _value(e.at), "action": e.action, "details": e.details}
                           for e in held.account_events],
    }


def _readme(language: str) -> str:
    gettext = translations_for(language).gettext
    lines = [
        gettext("Your data from Tell us once"),
        "",
        gettext("This file holds everything Tell us once holds about you, as it was when you downloaded it."),
        "",
        gettext("data.json: your account and details; the people you reported about; every change you "
                "reported, with your answers and, for each organisation, what it was sent, when, and the "
                "consent receipt it was sent under; every consent you gave or withdrew, with its receipts; "
                "every email we sent you; the emails you sent us; and the record of your account's events, "
                "such as signing in."),
        gettext("emails-you-sent: each email you sent us, as we received it (open it with an email program)."),
        "",
        gettext("data.json is in JSON, a format other programs can read. What each part means is explained "
                "on the ‘Download your data’ page of your account."),
    ]
    return "\n".join(lines) + "\n"


def export_archive(session: Session, citizen: Citizen, *, now: datetime) -> bytes:
    """The ZIP of everything held about ``citizen``: ``README.txt``, ``data.json``, ``emails-you-sent/*.eml``."""
    held = held_about(session, citizen)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("README.txt", _readme(citizen.language))
        archive.writestr("data.json", json.dumps(your_data(held, produced_at=now), ensure_ascii=False, indent=1))
        for message in held.emails_received:
            archive.writestr(eml_name(message), message.raw)
    return buffer.getvalue()
