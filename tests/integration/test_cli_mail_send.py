"""`tellusonce mail send` through GOV.UK Notify, run as an operator runs it: a missing key is one line, and
with a key the queued email reaches a local Notify."""

from __future__ import annotations

from tellusonce.db import transaction
from tellusonce.i18n import N_
from tellusonce.mailout.queue import queue_email
from tellusonce.models import OutgoingEmail, OutgoingState
from tests.integration.mailout.notify_server import NotifyServer
from tests.integration.test_cli_settings import lines, tellusonce

TEMPLATE_ID = "f33517ff-2a88-4f6e-b855-c550268ce08a"


def test_mail_send_through_notify_without_an_api_key_says_so_in_one_line(tmp_path):
    result = tellusonce("mail", "send", "--once", cwd=tmp_path, TELLUSONCE_MODE="demo",
                        TELLUSONCE_INSTANCE_PATH=str(tmp_path / "instance"), TELLUSONCE_OUTBOUND_MAIL="notify",
                        TELLUSONCE_NOTIFY_TEMPLATE_ID=TEMPLATE_ID)
    assert "Traceback" not in result.stderr, result.stderr
    [problem] = lines(result.stderr)
    assert "TELLUSONCE_NOTIFY_API_KEY is not set" in problem and result.returncode == 2


def test_mail_send_once_hands_the_queued_email_to_notify(tmp_path, engine, database_url, database_cleaner):
    try:
        with transaction(engine) as session:
            email = queue_email(session, to="ada@example.org", subject=N_("Confirm your email address"),
                                template="mail_unknown_sender", purpose="test",
                                context={"register_link": "https://t.test/r", "service_address": "changes@t.test"})
        with NotifyServer() as notify:
            result = tellusonce("mail", "send", "--once", cwd=tmp_path, TELLUSONCE_MODE="test",
                                TELLUSONCE_DATABASE_URL=database_url, TELLUSONCE_OUTBOUND_MAIL="notify",
                                TELLUSONCE_NOTIFY_API_KEY=notify.api_key, TELLUSONCE_NOTIFY_TEMPLATE_ID=TEMPLATE_ID,
                                TELLUSONCE_NOTIFY_BASE_URL=notify.base_url)
        assert result.returncode == 0, result.stderr
        assert "1 sent" in result.stdout
        assert [request["reference"] for request in notify.received] == [str(email.id)]
        with transaction(engine, writer=False) as session:
            sent = session.get(OutgoingEmail, email.id)
            assert sent.state == OutgoingState.SENT and sent.provider_id == notify.received[0]["id"]
    finally:
        database_cleaner(engine)
