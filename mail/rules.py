"""Mail the service must never answer (RFC 3834), so that two robots never talk forever.

No reply goes to a bounce (empty envelope sender), to anything marked
``Auto-Submitted`` (other than ``no``), to an out-of-office or other automatic
reply, to a mailing list or bulk mail, to a delivery report, to a mailer
daemon, or to the service's own addresses.
"""

from __future__ import annotations

import re

from tellusonce_mail.mime import ReadMessage

_ROBOT_SENDERS = re.compile(
    r"^(mailer-daemon|postmaster|no-?reply|do-?not-?reply|bounces?|owner-.*|.*-request|.*-bounces?|listserv|majordomo)@",
    re.IGNORECASE,
)
_AUTO_SUBJECT = re.compile(
    r"^\s*(auto(matic)?\s*(reply|response)|out of (the )?office|automatic reply|undeliverable|undelivered mail|"
    r"delivery status notification|returned mail|mail delivery (failed|failure)|ateb awtomatig|allan o'r swyddfa)\b",
    re.IGNORECASE,
)


def never_answer(read: ReadMessage, *, mail_from: str, mail_domain: str) -> str | None:
    """Why this message must not be answered, or None when a reply is fine."""
    headers = read.headers
    if not mail_from:
        return "bounce (empty envelope sender)"
    auto = headers.get("auto-submitted", "").strip().lower()
    if auto and not auto.startswith("no"):
        return "Auto-Submitted"
    if headers.get("precedence", "").strip().lower() in ("bulk", "list", "junk", "auto_reply"):
        return "Precedence"
    if any(name in headers for name in ("list-id", "list-unsubscribe", "list-post")):
        return "mailing list"
    if any(name in headers for name in ("x-autoreply", "x-autorespond")):
        return "automatic reply"
    if "x-tellusonce" in headers:
        return "one of our own messages"
    if read.content_type == "multipart/report":
        return "delivery report"
    if _AUTO_SUBJECT.search(read.subject):
        return "automatic reply (subject)"
    for address in (mail_from, read.from_address or ""):
        if _ROBOT_SENDERS.match(address):
            return "robot sender"
        if address.lower().rstrip(".").endswith("@" + mail_domain.lower()):
            return "from the service's own domain"
    return None
