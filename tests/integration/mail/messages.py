"""Messages as people and robots send them, for the mail tests."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import make_msgid


def typed(body: str, *, sender: str = "ada@example.org", subject: str = "My change", **headers: str) -> EmailMessage:
    """A plain-text email as a person writes it."""
    message = EmailMessage()
    message["From"] = f"Ada Okafor <{sender}>"
    message["To"] = "changes@tellusonce.test"
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="example.org")
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message
