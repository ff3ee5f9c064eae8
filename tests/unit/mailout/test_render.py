"""Rendering an email's bodies from its template, in its language, and an answer as a person reads it."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from email.utils import formataddr

import pytest

from tellusonce.domain.changetypes import CHANGE_TYPES
from tellusonce.mailout.render import EmailTemplateMissing, answer_text, message_headers, render_email
from tellusonce.models import OutgoingEmail


def test_render_email_names_a_missing_template_and_a_missing_variable() -> None:
    with pytest.raises(EmailTemplateMissing, match="no_such_template"):
        render_email("no_such_template", {})
    with pytest.raises(Exception, match="link"):
        render_email("verify_email", {"hours": 1})


def test_an_unknown_language_falls_back_to_english() -> None:
    text, _ = render_email("verify_email", {"link": "https://x.test/v", "hours": 1}, language="xx")
    assert text.startswith("Confirm your email address")


@pytest.mark.parametrize(("change_type", "name", "value", "language", "shown"), [
    ("name", "change_date", "2026-11-01", "en", "1 November 2026"),
    ("name", "change_date", "2026-11-01", "cy", "1 Tachwedd 2026"),
    ("name", "change_date", date(2026, 11, 1), "cy", "1 Tachwedd 2026"),
    ("name", "change_date", "the first", "en", "the first"),
    ("name", "reason", "marriage", "cy", "Priodas"),
    ("address", "others_moving", True, "cy", "Ie"),
    ("address", "others_moving", False, "en", "No"),
    ("address", "address_line_2", None, "en", "Not given"),
    ("address", "address_line_2", "", "cy", "Heb ei roi"),
])
def test_an_answer_reads_the_same_on_a_page_and_in_an_email_in_the_readers_language(
        change_type: str, name: str, value: object, language: str, shown: str) -> None:
    assert answer_text(CHANGE_TYPES[change_type], name, value, language) == shown


@pytest.mark.parametrize(("language", "name", "content_language"), [
    ("en", "Tell us once", "en"),
    ("cy", "Dweud Wrthym Unwaith", "cy"),
    ("cy+en", "Dweud Wrthym Unwaith / Tell us once", "cy, en"),
])
def test_the_sender_is_named_and_the_language_declared_in_the_emails_language(
        language: str, name: str, content_language: str) -> None:
    email = OutgoingEmail(id=uuid.uuid4(), to_address="a@example.org", subject="S", purpose="verify",
                          language=language, created_at=datetime(2026, 11, 22, 12, 0, tzinfo=UTC))
    headers = dict(message_headers(email, sender_address="changes@tellusonce.test", mail_domain="tellusonce.test"))
    assert headers["From"] == formataddr((name, "changes@tellusonce.test"))
    # RFC 3282: a mail program or screen reader reading Welsh knows it is Welsh, Welsh first when both.
    assert headers["Content-Language"] == content_language
