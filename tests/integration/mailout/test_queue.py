"""Queueing email: checked and written in the caller's transaction with what to render, rendered when sent."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest
from alembic import command
from markupsafe import Markup
from sqlalchemy import Engine, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tellusonce.clock import utcnow
from tellusonce.db import transaction
from tellusonce.i18n import N_
from tellusonce.mailout.queue import queue_email
from tellusonce.mailout.render import EmailTemplateMissing, rendered_bodies
from tellusonce.mailout.send import OutboundMailer
from tellusonce.migrate import alembic_config, current_revision, upgrade
from tellusonce.models import OutgoingEmail, OutgoingState
from tellusonce.settings import Settings

# An email queue_email accepts; each test changes what it is about.
AN_EMAIL: dict[str, Any] = {"to": "ada@example.com", "subject": N_("Reset your password"), "template": "reset_password",
                            "context": {"link": "https://x.test/r", "hours": 1}, "purpose": "test"}


def queue(session: Session, **changes: Any) -> OutgoingEmail:
    return queue_email(session, **{**AN_EMAIL, **changes})


def test_queue_email_writes_a_queued_row_with_what_to_render_and_renders_it_later(db_session: Session) -> None:
    related = uuid.uuid4()
    email = queue(db_session, subject=N_("Confirm your email address"), template="verify_email",
                  context={"link": "https://tellusonce.test/account/verify/abc?x=1&y=2", "hours": 24},
                  purpose="verify_email", related_id=related)
    db_session.expire_all()  # read back what the database holds, JSON and all
    stored = db_session.scalars(select(OutgoingEmail).where(OutgoingEmail.id == email.id)).one()
    assert stored.state == OutgoingState.QUEUED
    assert stored.to_address == "ada@example.com"
    assert stored.subject == "Confirm your email address"
    assert (stored.body_text, stored.body_html) == (None, None)
    assert (stored.template, stored.language) == ("verify_email", "en")
    assert stored.context == {"link": "https://tellusonce.test/account/verify/abc?x=1&y=2", "hours": 24}
    text, html = rendered_bodies(stored)
    assert "https://tellusonce.test/account/verify/abc?x=1&y=2" in text
    assert "stops working after 24 hours" in text
    assert html is not None
    assert 'href="https://tellusonce.test/account/verify/abc?x=1&amp;y=2"' in html
    assert stored.headers["Auto-Submitted"] == "auto-generated"
    assert stored.related_id == related
    assert stored.next_attempt_at is not None


def test_queue_email_escapes_context_in_html_but_not_in_text(db_session: Session) -> None:
    email = queue(db_session, context={"link": "https://x.test/<script>", "hours": 2})
    text, html = rendered_bodies(email)
    assert "https://x.test/<script>" in text
    assert html is not None and "https://x.test/&lt;script&gt;" in html and "<script>" not in html


def test_queue_email_keeps_headers_and_text_attachments(db_session: Session) -> None:
    email = queue(db_session, subject=N_("Your password has been changed"), template="password_changed",
                  context={"reset_link": "https://x.test/reset"},
                  headers={"In-Reply-To": "<m1@example.com>", "Auto-Submitted": "auto-replied"},
                  attachments=[{"filename": "receipt.json", "content_type": "application/json", "content": "{}"}])
    assert email.headers == {"In-Reply-To": "<m1@example.com>", "Auto-Submitted": "auto-replied"}
    assert email.attachments == [{"content": "{}", "content_type": "application/json", "filename": "receipt.json"}]
    assert rendered_bodies(email)[1] is None


def test_queue_email_fills_subject_placeholders_from_the_context(db_session: Session) -> None:
    email = queue(db_session, subject=N_("Your change %(reference)s"),
                  context={**AN_EMAIL["context"], "reference": "TUO-7K3M-9QX2"})
    assert email.subject == "Your change TUO-7K3M-9QX2"


def test_queue_email_refuses_line_breaks_in_the_address_or_headers(db_session: Session) -> None:
    with pytest.raises(ValueError, match="line break"):
        queue(db_session, to="a@example.com\nBcc: b@example.com")
    with pytest.raises(ValueError, match="line break"):
        queue(db_session, headers={"References": "a\r\nBcc: b"})


def _outbox_size(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(OutgoingEmail)) or 0


def test_queue_email_refuses_a_missing_template_before_anything_is_written(db_session: Session) -> None:
    before = _outbox_size(db_session)
    with pytest.raises(EmailTemplateMissing, match="templates/email/no_such_template.txt"):
        queue(db_session, template="no_such_template")
    assert not db_session.new and _outbox_size(db_session) == before


@pytest.mark.parametrize(("context", "message"), [
    ({"reported_on": date(2026, 11, 1)}, r"context\['reported_on'\] is a date"),
    ({"fields": [("Postcode", "LS2 9JT")]}, r"context\['fields'\]\[0\] is a tuple"),
    ({"recipients": [{"name": "DVLA", "id": uuid.UUID(int=1)}]}, r"context\['recipients'\]\[0\]\['id'\] is a UUID"),
    ({"link": Markup("<b>x</b>")}, r"context\['link'\] is a Markup"),
    ({"hours": float("nan")}, r"context\['hours'\] is nan"),
    ({"by_year": {2026: "x"}}, r"key 2026, which is not text"),
])
def test_queue_email_refuses_a_context_that_is_not_json_before_anything_is_written(
    db_session: Session, context: dict[str, object], message: str
) -> None:
    before = _outbox_size(db_session)
    with pytest.raises(ValueError, match=message):
        queue(db_session, context={**AN_EMAIL["context"], **context})
    assert not db_session.new and _outbox_size(db_session) == before


def test_an_email_written_before_rendering_moved_to_the_sender_reads_as_it_was_stored(db_session: Session) -> None:
    now = utcnow()
    old = OutgoingEmail(created_at=now, purpose="verify_email", to_address="ada@example.com", subject="Old subject",
                        body_text="Rendered when queued.\n", body_html="<p>Rendered when queued.</p>",
                        state=OutgoingState.QUEUED, attempts=0, next_attempt_at=now)
    db_session.add(old)
    db_session.flush()
    db_session.expire_all()
    assert rendered_bodies(db_session.get(OutgoingEmail, old.id)) == ("Rendered when queued.\n",
                                                                      "<p>Rendered when queued.</p>")


def test_email_queued_before_0003_keeps_its_bodies_and_0003_is_undone_only_once_every_email_is_rendered(
    engine: Engine, database_url: str, settings: Settings, database_cleaner
) -> None:
    now = utcnow()
    try:
        command.downgrade(alembic_config(database_url), "0002")
        with engine.begin() as connection:  # the columns 0002 has, as a row was written then
            connection.execute(insert(OutgoingEmail.__table__).values(
                id=uuid.uuid4(), created_at=now, purpose="verify_email", to_address="old@example.com",
                subject="Confirm your email address", body_text="Rendered when queued.\n", body_html=None,
                headers={}, attachments=[], state=OutgoingState.QUEUED, attempts=0, next_attempt_at=now))
        upgrade(database_url)
        with transaction(engine, writer=False) as session:
            old = session.scalars(select(OutgoingEmail).where(OutgoingEmail.to_address == "old@example.com")).one()
        assert (old.body_text, old.template, old.context, old.language) == ("Rendered when queued.\n", None, None, None)

        with transaction(engine) as session:
            queue(session, to="new@example.com")
        command.downgrade(alembic_config(database_url), "0003")
        with pytest.raises(RuntimeError, match="1 emails have no body yet"):
            command.downgrade(alembic_config(database_url), "0002")
        assert current_revision(engine) == "0003"
        upgrade(database_url)  # the sender reads the newest schema (columns later than 0003 included)
        assert OutboundMailer(engine, settings).send_due().captured == 2
        command.downgrade(alembic_config(database_url), "0002")
        with engine.connect() as connection:
            bodies = dict(connection.execute(select(OutgoingEmail.to_address, OutgoingEmail.body_text)).all())
        assert bodies["old@example.com"] == "Rendered when queued.\n" and "https://x.test/r" in bodies["new@example.com"]
    finally:
        upgrade(database_url)
        database_cleaner(engine)


def test_the_outbox_refuses_a_row_with_neither_bodies_nor_a_template_to_render_them_from(db_session: Session) -> None:
    now = utcnow()
    db_session.add(OutgoingEmail(created_at=now, purpose="test", to_address="ada@example.com", subject="Nothing",
                                 state=OutgoingState.QUEUED, attempts=0, next_attempt_at=now))
    with pytest.raises(IntegrityError, match="renderable"):
        db_session.flush()
