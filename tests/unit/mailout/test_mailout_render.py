"""Rendering an email's bodies from its template, in its language."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from email.utils import formataddr

import pytest

from tellusonce.mailout.render import EmailTemplateMissing, message_headers, render_email
from tellusonce.models import OutgoingEmail


def test_render_email_names_a_missing_template_and_a_missing_variable() -> None:
    with pytest.raises(EmailTemplateMissing, match="no_such_template"):
        render_email("no_such_template", {})
    with pytest.raises(Exception, match="link"):
        render_email("verify_email", {"hours": 1})


def test_an_unknown_language_falls_back_to_english() -> None:
    text, _ = render_email("verify_email", {"link": "https://x.test/v", "hours": 1}, language="xx")
    assert text.startswith("Confirm your email address")


@pytest.mark.parametrize(("language", "name"), [
    ("en", "Tell us once"),
    ("cy", "Dweud Wrthym Unwaith"),
    ("cy+en", "Dweud Wrthym Unwaith / Tell us once"),
])
def test_the_sender_is_named_in_the_emails_language(language: str, name: str) -> None:
    email = OutgoingEmail(id=uuid.uuid4(), to_address="a@example.org", subject="S", purpose="verify",
                          language=language, created_at=datetime(2026, 11, 22, 12, 0, tzinfo=UTC))
    headers = dict(message_headers(email, sender_address="changes@tellusonce.test", mail_domain="tellusonce.test"))
    assert headers["From"] == formataddr((name, "changes@tellusonce.test"))
