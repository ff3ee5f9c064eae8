"""/dev/mail: the email the service wrote, readable in demo and test mode, absent in production."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine

from tellusonce import create_app
from tellusonce.db import transaction
from tellusonce.i18n import N_
from tellusonce.mailout.queue import queue_email
from tellusonce.mailout.render import build_message, rendered_bodies
from tellusonce.mailout.send import OutboundMailer
from tellusonce.models import OutgoingEmail
from tellusonce.settings import Settings
from tests.page_checks import check_page


def _queue(app: Flask, to: str, link: str) -> str:
    with transaction(app.extensions["tellusonce.engine"]) as session:
        email = queue_email(session, to=to, subject=N_("Confirm your email address"), template="verify_email",
                            context={"link": link, "hours": 24}, purpose="verify_email")
        return str(email.id)


def test_the_demo_mailbox_lists_email_newest_first_and_shows_each_with_working_links(
    app: Flask, client: FlaskClient
) -> None:
    _queue(app, "first@example.com", "http://127.0.0.1:5000/account/verify/one")
    newest = _queue(app, "second@example.com", "http://127.0.0.1:5000/account/verify/two?a=1&b=<2>")
    page = check_page(client.get("/dev/mail/"))
    rows = page.select("tbody tr")
    assert "second@example.com" in rows[0].get_text() and "first@example.com" in rows[1].get_text()

    page = check_page(client.get(f"/dev/mail/{newest}"))
    link = page.select_one(".app-email-body a")
    assert link["href"] == "http://127.0.0.1:5000/account/verify/two?a=1&b="
    assert "<2>" in page.select_one(".app-email-body").get_text()


def test_a_captured_email_is_shown_as_it_was_captured_not_rendered_again(
    app: Flask, client: FlaskClient, settings: Settings
) -> None:
    email_id = _queue(app, "first@example.com", "http://127.0.0.1:5000/account/verify/sent")
    engine = app.extensions["tellusonce.engine"]
    assert OutboundMailer(engine, settings).send_due().captured == 1
    with transaction(engine) as session:  # rendering it again now would show another link
        email = session.get(OutgoingEmail, uuid.UUID(email_id))
        email.context = {**email.context, "link": "http://127.0.0.1:5000/account/verify/changed"}
    page = check_page(client.get(f"/dev/mail/{email_id}"))
    assert page.select_one(".app-email-body a")["href"] == "http://127.0.0.1:5000/account/verify/sent"
    html = client.get(f"/dev/mail/{email_id}/html").get_data(as_text=True)
    assert "/account/verify/sent" in html and "/account/verify/changed" not in html


def test_the_demo_mailbox_can_show_one_address_only(app: Flask, client: FlaskClient) -> None:
    _queue(app, "first@example.com", "http://x.test/1")
    _queue(app, "second@example.com", "http://x.test/2")
    page = check_page(client.get("/dev/mail/?to=FIRST@example.com"))
    assert len(page.select("tbody tr")) == 1


def test_the_html_version_is_sandboxed(app: Flask, client: FlaskClient) -> None:
    email_id = _queue(app, "first@example.com", "http://x.test/1")
    response = client.get(f"/dev/mail/{email_id}/html")
    assert response.status_code == 200
    assert response.headers["Content-Security-Policy"].startswith("sandbox;")


def test_an_unknown_message_is_not_found(client: FlaskClient) -> None:
    assert client.get("/dev/mail/not-an-id").status_code == 404
    assert client.get("/dev/mail/00000000-0000-0000-0000-000000000000").status_code == 404


def test_there_is_no_demo_mailbox_in_production(
    settings: Settings, engine: Engine, database_cleaner: Callable[[Engine], None]
) -> None:
    production = dataclasses.replace(settings, mode="production", outbound_mail="smtp://127.0.0.1:25")
    app = create_app(production)
    try:
        response = app.test_client().get("/dev/mail/")
        assert response.status_code == 404
        assert "Demo mailbox" not in app.test_client().get("/").get_data(as_text=True)
    finally:
        app.extensions["tellusonce.engine"].dispose()
        database_cleaner(engine)


def test_a_message_shows_every_header_its_recipient_would_see_reply_to_included(
    app: Flask, client: FlaskClient, settings: Settings
) -> None:
    with transaction(app.extensions["tellusonce.engine"]) as session:
        email = queue_email(session, to="ada@example.org", subject=N_("Confirm the change you emailed"),
                            template="verify_email", context={"link": "http://x.test/1", "hours": 24},
                            purpose="mail_confirm_change",
                            headers={"Reply-To": "confirm+abcdefgh@tellusonce.test", "In-Reply-To": "<m1@example.org>"})
        email_id = str(email.id)
    page = check_page(client.get(f"/dev/mail/{email_id}"))
    rows = page.select(".app-email-headers .govuk-summary-list__row")
    shown = [(row.select_one("dt").get_text(strip=True), row.select_one("dd").get_text(strip=True)) for row in rows]
    assert [name for name, _ in shown[:5]] == ["From", "To", "Reply-To", "Subject", "Date"]
    assert dict(shown)["Reply-To"] == "confirm+abcdefgh@tellusonce.test"

    with transaction(app.extensions["tellusonce.engine"], writer=False) as session:
        row = session.get(OutgoingEmail, uuid.UUID(email_id))
        sent = build_message(row, rendered_bodies(row), sender_address=settings.sender_address,
                             mail_domain=settings.mail_domain)
    mime = {"content-type", "mime-version", "content-transfer-encoding"}
    assert sorted(shown) == sorted((name, str(value)) for name, value in sent.items() if name.lower() not in mime)
