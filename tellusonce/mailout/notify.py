"""Sending an outgoing email through GOV.UK Notify (``TELLUSONCE_OUTBOUND_MAIL=notify``).

Notify sends email from templates it holds, filled in with personalisation. This service writes
its own emails, in Welsh and English, from ``templates/email/`` and its message catalogues, so
every email goes through **one generic Notify template** whose subject is ``((subject))`` and
whose body is ``((body))`` (``TELLUSONCE_NOTIFY_TEMPLATE_ID``): the personalisation is the
subject and the plain-text body exactly as ``render.rendered_bodies`` rendered them, in the
language the row records. A template per kind of email would copy every email, in both
languages, into Notify's editor, where it would drift from the catalogues, the Welsh checks and
what ``/dev/mail`` shows; the generic template keeps one source for every word.

An email with a file (the email channel's CloudEvent) needs a second template with a
``((link_to_file))`` placeholder as well (``TELLUSONCE_NOTIFY_FILE_TEMPLATE_ID``): Notify sends
no attachments, only a link to the file that the addressee confirms their address to open
("Send a file by email", which Notify switches on for a service).

Every request carries ``reference`` = the email row's id (so a delivery receipt finds its row)
and ``email_reply_to_id`` when one is set. Notify's answer is classified as the SMTP relay's is:
400, 403 and the other 4xx are permanent (the row fails with Notify's message); 429, 5xx and no
answer at all (a refused connection, a timeout) are temporary and retried with backoff.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from notifications_python_client import prepare_upload
from notifications_python_client.errors import APIError
from notifications_python_client.notifications import NotificationsAPIClient

from tellusonce.mailout.render import Bodies
from tellusonce.models import OutgoingEmail
from tellusonce.settings import Settings

NOTIFY = "notify"  # the TELLUSONCE_OUTBOUND_MAIL value
NOTIFY_API = "https://api.notifications.service.gov.uk"
NOTIFY_TIMEOUT = 15  # seconds for one request; Notify answers in well under one
FILE_PLACEHOLDER = "link_to_file"


class NotifyConfigError(ValueError):
    """An email that the settings give Notify no template for (a file without a file template)."""


@dataclass(frozen=True)
class NotifyDelivery:
    """What Notify made of one email: its notification id, or the error and whether it is permanent.
    ``unreachable``: Notify did not answer at all, so the rest of the batch would not fare better."""

    notification_id: str | None = None
    error: str | None = None
    permanent: bool = False
    unreachable: bool = False


class NotifyProvider:
    """Sends emails through Notify's API with the official client; one per sender (the client is
    not thread-safe)."""

    def __init__(self, *, api_key: str, template_id: str, file_template_id: str = "", reply_to_id: str = "",
                 base_url: str = "", timeout: float = NOTIFY_TIMEOUT) -> None:
        self.base_url = (base_url or NOTIFY_API).rstrip("/")
        self.template_id = template_id
        self.file_template_id = file_template_id
        self.reply_to_id = reply_to_id
        self.client = NotificationsAPIClient(api_key, base_url=self.base_url, timeout=timeout)

    @classmethod
    def from_settings(cls, settings: Settings) -> NotifyProvider:
        """The provider the settings describe (``Settings.checked`` has refused any that cannot work)."""
        return cls(api_key=settings.notify_api_key, template_id=settings.notify_template_id,
                   file_template_id=settings.notify_file_template_id, reply_to_id=settings.notify_reply_to_id,
                   base_url=settings.notify_base_url)

    def request_for(self, email: OutgoingEmail, bodies: Bodies) -> dict[str, Any]:
        """The arguments of ``send_email_notification`` for ``email`` with ``bodies``: the template, the
        subject and plain-text body as personalisation, the file if it has one, the row's id as reference.

        NotifyConfigError for an email with a file but no file template, or with more than one file."""
        text, _html = bodies  # Notify makes its own HTML (GOV.UK branding) from the plain text
        personalisation: dict[str, Any] = {"subject": email.subject, "body": text}
        template_id = self.template_id
        files = email.attachments or []
        if files:
            if not self.file_template_id:
                raise NotifyConfigError(
                    "this email has a file and GOV.UK Notify sends files only as a link: set "
                    "TELLUSONCE_NOTIFY_FILE_TEMPLATE_ID to a template with ((subject)), ((body)) and ((link_to_file))")
            if len(files) > 1:
                raise NotifyConfigError(f"this email has {len(files)} files; through GOV.UK Notify it can have one")
            file = files[0]
            template_id = self.file_template_id
            personalisation[FILE_PLACEHOLDER] = prepare_upload(
                io.BytesIO(file["content"].encode("utf-8")), filename=file["filename"],
                confirm_email_before_download=True)
        request: dict[str, Any] = {"email_address": email.to_address, "template_id": template_id,
                                   "personalisation": personalisation, "reference": str(email.id)}
        if self.reply_to_id:
            request["email_reply_to_id"] = self.reply_to_id
        return request

    def deliver(self, email: OutgoingEmail, bodies: Bodies) -> NotifyDelivery:
        """Ask Notify to send ``email``; never raises for what Notify or the network says."""
        try:
            request = self.request_for(email, bodies)
        except NotifyConfigError as e:
            # Not Notify's refusal: retried, so that an operator who sets the file template in time loses nothing.
            return NotifyDelivery(error=str(e))
        except ValueError as e:  # prepare_upload: larger than Notify takes
            return NotifyDelivery(error=f"GOV.UK Notify cannot send this file: {e}", permanent=True)
        try:
            answer = self.client.send_email_notification(**request)
        except APIError as e:
            return _classified(e)
        notification_id = answer.get("id") if isinstance(answer, dict) else None
        return NotifyDelivery(notification_id=str(notification_id) if notification_id else None)


def _classified(error: APIError) -> NotifyDelivery:
    """Notify's refusal as an error line and whether it is permanent."""
    if error.response is None:  # the client's stand-in 503: no answer (refused, reset, timed out)
        cause = error.__cause__
        return NotifyDelivery(error=f"cannot reach GOV.UK Notify: {type(cause).__name__ if cause else 'no answer'}",
                              unreachable=True)
    status = error.status_code
    return NotifyDelivery(error=f"GOV.UK Notify answered {status}: {_message(error.message)}",
                          permanent=400 <= status < 500 and status != 429)


def _message(message: str | list[dict[str, Any]]) -> str:
    """Notify's ``errors`` list ([{"error": "BadRequestError", "message": "…"}]) as one line."""
    if isinstance(message, list):
        return "; ".join(f"{item.get('error', 'Error')}: {item.get('message', '')}" if isinstance(item, dict)
                         else str(item) for item in message)
    return str(message)
