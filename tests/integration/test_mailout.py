"""Queueing email: rendered in the reader's language, written in the caller's transaction."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tellusonce.i18n import N_
from tellusonce.mailout import EmailTemplateMissing, queue_email, render_email
from tellusonce.models import OutgoingEmail, OutgoingState


def test_queue_email_renders_text_and_html_and_writes_a_queued_row(db_session: Session) -> None:
    related = uuid.uuid4()
    email = queue_email(
        db_session,
        to="ada@example.com",
        subject=N_("Confirm your email address"),
        template="verify_email",
        context={"link": "https://tellusonce.test/account/verify/abc?x=1&y=2", "hours": 24},
        purpose="verify_email",
        related_id=related,
    )
    stored = db_session.scalars(select(OutgoingEmail).where(OutgoingEmail.id == email.id)).one()
    assert stored.state == OutgoingState.QUEUED
    assert stored.to_address == "ada@example.com"
    assert stored.subject == "Confirm your email address"
    assert "https://tellusonce.test/account/verify/abc?x=1&y=2" in stored.body_text
    assert "stops working after 24 hours" in stored.body_text
    assert stored.body_html is not None
    assert 'href="https://tellusonce.test/account/verify/abc?x=1&amp;y=2"' in stored.body_html
    assert stored.headers["Auto-Submitted"] == "auto-generated"
    assert stored.related_id == related
    assert stored.next_attempt_at is not None


def test_queue_email_escapes_context_in_html_but_not_in_text(db_session: Session) -> None:
    email = queue_email(
        db_session,
        to="ada@example.com",
        subject=N_("Reset your password"),
        template="reset_password",
        context={"link": "https://x.test/<script>", "hours": 2},
        purpose="reset_password",
    )
    assert "https://x.test/<script>" in email.body_text
    assert "<script>" not in (email.body_html or "")


def test_queue_email_keeps_headers_and_text_attachments(db_session: Session) -> None:
    email = queue_email(
        db_session,
        to="ada@example.com",
        subject=N_("Your password has been changed"),
        template="password_changed",
        context={"reset_link": "https://x.test/reset"},
        purpose="password_changed",
        headers={"In-Reply-To": "<m1@example.com>", "Auto-Submitted": "auto-replied"},
        attachments=[{"filename": "receipt.json", "content_type": "application/json", "content": "{}"}],
    )
    assert email.headers == {"In-Reply-To": "<m1@example.com>", "Auto-Submitted": "auto-replied"}
    assert email.attachments == [{"content": "{}", "content_type": "application/json", "filename": "receipt.json"}]
    assert email.body_html is None


def test_queue_email_fills_subject_placeholders_from_the_context(db_session: Session) -> None:
    email = queue_email(
        db_session,
        to="ada@example.com",
        subject=N_("Your change %(reference)s"),
        template="password_changed",
        context={"reset_link": "https://x.test/reset", "reference": "TUO-7K3M-9QX2"},
        purpose="test",
    )
    assert email.subject == "Your change TUO-7K3M-9QX2"


def test_queue_email_refuses_line_breaks_in_the_address_or_headers(db_session: Session) -> None:
    with pytest.raises(ValueError, match="line break"):
        queue_email(db_session, to="a@example.com\nBcc: b@example.com", subject="x", template="password_changed",
                    context={"reset_link": "x"}, purpose="test")
    with pytest.raises(ValueError, match="line break"):
        queue_email(db_session, to="a@example.com", subject="x", template="password_changed",
                    context={"reset_link": "x"}, purpose="test", headers={"References": "a\r\nBcc: b"})


def test_render_email_names_a_missing_template_and_a_missing_variable() -> None:
    with pytest.raises(EmailTemplateMissing, match="no_such_template"):
        render_email("no_such_template", {})
    with pytest.raises(Exception, match="link"):
        render_email("verify_email", {"hours": 1})


def test_an_unknown_language_falls_back_to_english() -> None:
    text, _ = render_email("verify_email", {"link": "https://x.test/v", "hours": 1}, language="xx")
    assert text.startswith("Confirm your email address")
