"""POST /notify/receipts: GOV.UK Notify's delivery receipts, recorded on the email they are about."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine

from tellusonce.db import transaction
from tellusonce.i18n import N_
from tellusonce.mailout.queue import queue_email
from tellusonce.mailout.send import OutboundMailer
from tellusonce.models import OutgoingEmail, OutgoingState
from tellusonce.settings import Settings
from tests.integration.mailout.notify_server import NotifyServer

TOKEN = "a-callback-token-typed-into-notify-0123456789"
TEMPLATE_ID = "f33517ff-2a88-4f6e-b855-c550268ce08a"
NOTIFY_ID = "740e5834-3a29-46b4-9a6f-16142fde533a"
COMPLETED = "2026-12-02T17:15:30.000000Z"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, notify_callback_token=TOKEN)


def sent_email(engine: Engine, *, provider_id: str | None = NOTIFY_ID) -> OutgoingEmail:
    """An email the sender has handed to Notify (its id recorded, unless ``provider_id`` is None)."""
    with transaction(engine) as session:
        email = queue_email(session, to="ada@example.org", subject=N_("Confirm your email address"),
                            template="mail_unknown_sender", purpose="test",
                            context={"register_link": "https://tellusonce.test/r",
                                     "service_address": "changes@tellusonce.test"})
        email.state = OutgoingState.SENT
        email.provider_id = provider_id
    return email


def receipt(email: OutgoingEmail, status: str = "delivered", *, completed_at: str | None = COMPLETED,
            notify_id: str = NOTIFY_ID) -> dict[str, object]:
    return {"id": notify_id, "reference": str(email.id), "to": email.to_address, "status": status,
            "created_at": "2026-12-02T17:15:00.000000Z", "completed_at": completed_at,
            "sent_at": "2026-12-02T17:15:02.000000Z", "notification_type": "email",
            "template_id": TEMPLATE_ID, "template_version": 1}


def post(client, body: object, *, token: str | None = TOKEN, raw: bytes | None = None):
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return client.post("/notify/receipts", data=raw if raw is not None else json.dumps(body),
                       content_type="application/json", headers=headers)


def row(engine: Engine, email_id) -> OutgoingEmail:
    with transaction(engine, writer=False) as session:
        return session.get(OutgoingEmail, email_id)


def test_a_delivered_receipt_marks_the_email_delivered_when_notify_said_so(client, engine):
    email = sent_email(engine)
    response = post(client, receipt(email))
    assert response.status_code == 200 and response.json["result"] == "recorded"
    delivered = row(engine, email.id)
    at = datetime(2026, 12, 2, 17, 15, 30, tzinfo=UTC)
    assert (delivered.delivery_status, delivered.delivery_status_at, delivered.delivered_at) == ("delivered", at, at)
    assert delivered.state == OutgoingState.SENT and delivered.provider_id == NOTIFY_ID


def test_a_permanent_failure_receipt_is_recorded_and_the_email_is_not_delivered(client, engine):
    email = sent_email(engine)
    assert post(client, receipt(email, "permanent-failure")).status_code == 200
    failed = row(engine, email.id)
    assert failed.delivery_status == "permanent-failure" and failed.delivered_at is None


def test_the_same_receipt_twice_is_taken_twice_and_changes_nothing_more(client, engine):
    email = sent_email(engine)
    assert post(client, receipt(email)).json["result"] == "recorded"
    again = post(client, receipt(email))
    assert again.status_code == 200 and again.json["result"] == "already recorded"
    assert row(engine, email.id).delivery_status == "delivered"


@pytest.mark.parametrize("token", [None, "wrong", TOKEN[:-1], TOKEN + "x", ""])
def test_a_receipt_without_the_right_token_is_refused_and_changes_nothing(client, engine, token):
    email = sent_email(engine)
    response = post(client, receipt(email), token=token)
    assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Bearer")
    assert row(engine, email.id).delivery_status is None


def test_a_receipt_with_another_scheme_is_refused(client, engine):
    email = sent_email(engine)
    response = client.post("/notify/receipts", json=receipt(email), headers={"Authorization": f"Basic {TOKEN}"})
    assert response.status_code == 401


@pytest.mark.parametrize("raw, says", [
    (b"{not json", "not JSON"),
    (b"\xff\xfe\x00", "not JSON"),
    (b"[1, 2]", "JSON object"),
    (json.dumps({"reference": "x", "status": "delivered"}).encode(), "id"),
    (json.dumps({"id": NOTIFY_ID, "status": "opened"}).encode(), "status"),
    (json.dumps({"id": NOTIFY_ID, "status": "delivered", "notification_type": "sms"}).encode(), "only email"),
    (json.dumps({"id": NOTIFY_ID, "status": "delivered", "completed_at": "yesterday"}).encode(), "completed_at"),
])
def test_a_body_that_is_not_a_receipt_is_a_400_saying_why_and_changes_nothing(client, engine, raw, says):
    email = sent_email(engine)
    response = post(client, None, raw=raw)
    assert response.status_code == 400 and says in response.json["error"]
    assert row(engine, email.id).delivery_status is None


def test_a_receipt_for_no_email_of_ours_is_a_404(client, engine):
    email = sent_email(engine)
    stranger = receipt(email) | {"reference": "someone-elses-ref", "id": "f0e2c8b6-95a4-4d3c-8a6e-1b2c3d4e5f60"}
    assert post(client, stranger).status_code == 404
    assert row(engine, email.id).delivery_status is None


def test_without_a_callback_token_configured_the_endpoint_takes_nothing(settings, engine, database_cleaner):
    from tellusonce import create_app

    app = create_app(dataclasses.replace(settings, notify_callback_token=""))
    try:
        email = sent_email(engine)
        assert post(app.test_client(), receipt(email), token="").status_code == 404
        assert row(engine, email.id).delivery_status is None
    finally:
        app.extensions["tellusonce.engine"].dispose()
        database_cleaner(engine)


def test_an_email_sent_through_notify_is_marked_delivered_by_notifys_receipt(client, engine, settings):
    with transaction(engine) as session:
        email = queue_email(session, to="grace@example.org", subject=N_("Confirm your email address"),
                            template="mail_unknown_sender", purpose="test",
                            context={"register_link": "https://tellusonce.test/r",
                                     "service_address": "changes@tellusonce.test"})
    with NotifyServer() as notify:
        configured = dataclasses.replace(settings, outbound_mail="notify", notify_api_key=notify.api_key,
                                         notify_template_id=TEMPLATE_ID, notify_base_url=notify.base_url)
        assert OutboundMailer(engine, configured).send_due().sent == 1
    (sent,) = notify.received
    # What Notify posts back once the email has arrived: its id, and our reference it was sent with.
    response = post(client, {"id": sent["id"], "reference": sent["reference"], "to": sent["email_address"],
                             "status": "delivered", "created_at": COMPLETED, "completed_at": COMPLETED,
                             "sent_at": COMPLETED, "notification_type": "email"})
    assert response.status_code == 200
    delivered = row(engine, email.id)
    assert delivered.provider_id == sent["id"] and delivered.delivery_status == "delivered"
    assert delivered.delivered_at == datetime(2026, 12, 2, 17, 15, 30, tzinfo=UTC)
