"""The SMTP conversation: who may be written to, and keeping the message before 250.

The listener is the service's MX, not a relay: it takes mail only for the
service address (``changes@<mail domain>``) and for the reply addresses of
confirmation emails (``confirm+<token>@<mail domain>``); every other recipient
gets 550 at RCPT. A message is answered 250 only once it is committed.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from tellusonce.clock import utcnow
from tellusonce_mail.store import Arrival, MessageStore, StoreFailed

log = logging.getLogger(__name__)

SERVICE_LOCAL_PART = "changes"
CONFIRM_LOCAL_PART = "confirm"
# A confirmation token as used in reply addresses: lower-case base 32 (mail systems
# may change the case of a local part, so the token must survive that).
_CONFIRM = re.compile(r"^confirm\+([a-z2-7]{16,64})$")


@dataclass(frozen=True)
class Recipient:
    """An address the service answers to: the service address, or one confirmation."""

    kind: str  # "changes" | "confirm"
    token: str | None = None


def recipient_for(address: str, mail_domain: str) -> Recipient | None:
    """What ``address`` is to the service, or None when it is not ours to take."""
    local, at, domain = address.strip().rpartition("@")
    if not at or domain.lower().rstrip(".") != mail_domain.lower():
        return None
    local = local.lower()
    if local == SERVICE_LOCAL_PART:
        return Recipient("changes")
    match = _CONFIRM.match(local)
    if match:
        return Recipient("confirm", match.group(1))
    return None


def confirmation_address(token: str, mail_domain: str) -> str:
    """The address a citizen can reply to instead of opening the confirmation link."""
    return f"{CONFIRM_LOCAL_PART}+{token}@{mail_domain}"


class IntakeHandler:
    """aiosmtpd hooks: check each recipient, then keep the message before saying 250."""

    def __init__(self, *, store: MessageStore, mail_domain: str, max_recipients: int) -> None:
        self.store = store
        self.mail_domain = mail_domain
        self.max_recipients = max_recipients

    async def handle_MAIL(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, mail_options: list[str]
    ) -> str:
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(  # noqa: N802
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if recipient_for(address, self.mail_domain) is None:
            log.info("refused a recipient that is not ours", extra={"peer": _peer(session)})
            return "550 5.1.1 No such mailbox here; this server only takes mail for the Tell us once service"
        if len(envelope.rcpt_tos) >= self.max_recipients:
            return "452 4.5.3 Too many recipients"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        raw = envelope.original_content or b""
        mail_from = envelope.mail_from or ""
        arrival = Arrival(
            peer=_peer(session),
            helo=session.host_name,
            mail_from="" if mail_from == "<>" else mail_from,
            rcpt_tos=tuple(envelope.rcpt_tos),
            raw=bytes(raw),
            received_at=utcnow(),
        )
        try:
            message_id = await self.store.save(arrival)
        except StoreFailed:
            return "451 4.3.0 Could not store the message just now; please try again later"
        log.info("accepted a message", extra={"inbound_id": str(message_id), "size": len(arrival.raw)})
        return f"250 2.0.0 Accepted as {message_id}"

    async def handle_exception(self, error: Exception) -> str:
        log.error("error in an SMTP session: %s", type(error).__name__, exc_info=error)
        return "451 4.3.0 Something went wrong on our side; please try again later"


def _peer(session: Any) -> str:
    peer = getattr(session, "peer", None)
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return str(peer or "unknown")
