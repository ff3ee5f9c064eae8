"""The sender over TLS and logged in, against real aiosmtpd relays on 127.0.0.1 with a throwaway CA: STARTTLS,
implicit TLS (smtps://), a refused login, a relay without STARTTLS, untrusted certificates."""

from __future__ import annotations

import dataclasses
import socket
import ssl
from dataclasses import dataclass
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import Engine

from tellusonce.clock import utcnow
from tellusonce.db import transaction
from tellusonce.i18n import N_
from tellusonce.mailout.queue import queue_email
from tellusonce.mailout.send import RELAY_HOLD, OutboundMailer
from tellusonce.models import OutgoingEmail, OutgoingState
from tellusonce.settings import Settings
from tests.dispatch_helpers import dispatch_once, submit

USERNAME, PASSWORD = "tellusonce", "correct horse battery staple"


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    cipher: Any  # the TLS cipher the message came over (None: in clear)
    login: str | None


class TlsRelay:
    """An aiosmtpd relay on 127.0.0.1: ``tls`` "starttls" (offered, and required before MAIL and AUTH),
    "implicit" (TLS from the first byte) or "none"; a login asked for when ``tls`` is not "none"."""

    def __init__(self, certificate: trustme.LeafCert | None, *, tls: Literal["starttls", "implicit", "none"],
                 refusal: str | None = None) -> None:
        self.certificate = certificate
        self.tls = tls
        self.refusal = refusal  # what a wrong login is answered (535 5.7.8 unless given)
        self.received: list[Received] = []
        self.mail_from: list[str] = []  # every MAIL FROM the relay saw, taken or not
        self.logins: list[str] = []  # every AUTH tried

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str,  # noqa: N802
                          mail_options: list[str]) -> str:
        self.mail_from.append(address)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        login = session.auth_data.login.decode() if session.authenticated else None
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message,  # type: ignore[arg-type]
                                      server.transport.get_extra_info("cipher"), login))
        return "250 OK"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str,
                     auth_data: LoginPassword) -> AuthResult:
        self.logins.append(auth_data.login.decode())
        ok = (auth_data.login, auth_data.password) == (USERNAME.encode(), PASSWORD.encode())
        return AuthResult(success=ok, handled=False, auth_data=auth_data, message=self.refusal)

    def __enter__(self) -> TlsRelay:
        context = None
        if self.certificate is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self.certificate.configure_cert(context)
        options: dict[str, Any] = {}
        if self.tls == "starttls":
            options = {"tls_context": context, "require_starttls": True, "auth_require_tls": True,
                       "authenticator": self.authenticate}
        elif self.tls == "implicit":  # aiosmtpd counts only STARTTLS as TLS, so AUTH is allowed from the start
            options = {"ssl_context": context, "auth_require_tls": False, "authenticator": self.authenticate}
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port, server_hostname="relay.test",
                                     **options)
        self.controller.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.controller.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> Path:
    path = tmp_path / "relay-ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture
def outbox(engine: Engine, database_cleaner):
    yield engine
    database_cleaner(engine)


def over(settings: Settings, url: str, *, ca_file: Path | None, password: str = PASSWORD) -> Settings:
    return dataclasses.replace(settings, outbound_mail=url, outbound_mail_username=USERNAME,
                               outbound_mail_password=password, outbound_mail_ca_file=ca_file)


def starttls_url(relay: TlsRelay) -> str:
    return f"smtp://127.0.0.1:{relay.port}?starttls=required"


def queue(engine: Engine) -> OutgoingEmail:
    with transaction(engine) as session:
        return queue_email(session, to="ada@example.org", subject=N_("Confirm your email address"),
                           template="verify_email", context={"link": "https://tellusonce.test/x", "hours": 24},
                           purpose="test")


def row(engine: Engine, email_id) -> OutgoingEmail:
    with transaction(engine, writer=False) as session:
        return session.get(OutgoingEmail, email_id)


def assert_held_with(engine: Engine, email: OutgoingEmail, *, says: str) -> OutgoingEmail:
    """The email waits for the relay's settings to be mended: queued, the reason recorded, no attempt counted."""
    waiting = row(engine, email.id)
    assert waiting.state == OutgoingState.QUEUED and waiting.attempts == 0, waiting.last_error
    assert says in waiting.last_error and PASSWORD not in waiting.last_error
    assert waiting.next_attempt_at >= utcnow() + RELAY_HOLD - timedelta(minutes=1)
    return waiting


def test_mail_arrives_over_starttls_logged_in(outbox, settings, ca, ca_file):
    email = queue(outbox)
    with TlsRelay(ca.issue_cert("127.0.0.1"), tls="starttls") as relay:
        summary = OutboundMailer(outbox, over(settings, starttls_url(relay), ca_file=ca_file)).send_due()
    assert summary.sent == 1
    [received] = relay.received
    assert received.cipher is not None and received.login == USERNAME
    assert received.rcpt_tos == ["ada@example.org"] and "https://tellusonce.test/x" in received.message.as_string()
    assert row(outbox, email.id).state == OutgoingState.SENT


def test_mail_arrives_over_smtps_with_tls_from_the_first_byte(outbox, settings, ca, ca_file):
    email = queue(outbox)
    with TlsRelay(ca.issue_cert("127.0.0.1"), tls="implicit") as relay:
        summary = OutboundMailer(outbox, over(settings, f"smtps://127.0.0.1:{relay.port}", ca_file=ca_file)).send_due()
    assert summary.sent == 1
    [received] = relay.received
    assert received.cipher is not None and received.login == USERNAME
    assert row(outbox, email.id).state == OutgoingState.SENT


def test_a_departments_notification_by_email_goes_through_the_same_relay_over_tls(committed, settings, ca, ca_file):
    [notification] = submit(committed, ("tv-licensing",))
    assert dispatch_once(committed, settings).delivered == 1  # queued in the outbox: the email channel's delivery
    with TlsRelay(ca.issue_cert("127.0.0.1"), tls="starttls") as relay:
        assert OutboundMailer(committed, over(settings, starttls_url(relay), ca_file=ca_file)).send_due().sent == 1
    [received] = relay.received
    assert received.rcpt_tos == ["changes@tv-licensing.tellusonce.localhost"]
    assert received.cipher is not None and received.login == USERNAME
    assert received.message["X-TellUsOnce-Notification"] == str(notification.id)


def test_a_refused_login_is_recorded_and_not_tried_again_until_the_hold_ends(outbox, settings, ca, ca_file):
    email = queue(outbox)
    with TlsRelay(ca.issue_cert("127.0.0.1"), tls="starttls") as relay:
        url = starttls_url(relay)
        mailer = OutboundMailer(outbox, over(settings, url, ca_file=ca_file, password="wrong"))
        assert mailer.send_due().retrying == 1
        waiting = assert_held_with(outbox, email, says=f"{url} refused the login of TELLUSONCE_OUTBOUND_MAIL_USERNAME: 535")
        assert "wrong" not in waiting.last_error
        queue(outbox)  # more mail, due now: this sender leaves the relay alone all the same
        assert mailer.send_due().total == 0 and mailer.send_due(now=utcnow() + timedelta(minutes=5)).total == 0
        assert relay.logins == [USERNAME] and relay.mail_from == []
        later = utcnow() + RELAY_HOLD + timedelta(seconds=1)
        assert mailer.send_due(now=later).retrying == 2
        assert relay.logins == [USERNAME, USERNAME]  # one login tried per hold, not one per email or batch
        mended = OutboundMailer(outbox, over(settings, url, ca_file=ca_file))  # restarted with the right password
        assert mended.send_due(now=later + RELAY_HOLD + timedelta(seconds=1)).sent == 2
    sent = row(outbox, email.id)
    assert sent.state == OutgoingState.SENT and sent.attempts == 1


def test_a_relay_that_does_not_offer_starttls_is_sent_nothing_in_clear(outbox, settings, ca_file):
    email = queue(outbox)
    with TlsRelay(None, tls="none") as relay:
        url = starttls_url(relay)
        assert OutboundMailer(outbox, over(settings, url, ca_file=ca_file)).send_due().retrying == 1
    assert relay.mail_from == [] and relay.logins == [] and relay.received == []
    assert_held_with(outbox, email, says=f"{url} does not offer STARTTLS, which the setting requires: nothing was sent")


@pytest.mark.parametrize("tls", ["starttls", "implicit"])
def test_a_certificate_from_an_authority_not_trusted_is_refused_before_anything_is_sent(outbox, settings, ca_file,
                                                                                        tls):
    email = queue(outbox)
    stranger = trustme.CA()  # the relay's certificate is sound, but from an authority the CA file does not hold
    with TlsRelay(stranger.issue_cert("127.0.0.1"), tls=tls) as relay:
        url = starttls_url(relay) if tls == "starttls" else f"smtps://127.0.0.1:{relay.port}"
        assert OutboundMailer(outbox, over(settings, url, ca_file=ca_file)).send_due().retrying == 1
    assert relay.mail_from == [] and relay.logins == [] and relay.received == []
    assert_held_with(outbox, email, says=f"{url} has a certificate that is not trusted for 127.0.0.1 by the authorities "
                                         "in TELLUSONCE_OUTBOUND_MAIL_CA_FILE")


def test_without_a_ca_file_a_private_authority_is_not_trusted_and_the_error_says_what_to_set(outbox, settings, ca):
    email = queue(outbox)
    with TlsRelay(ca.issue_cert("127.0.0.1"), tls="starttls") as relay:
        assert OutboundMailer(outbox, over(settings, starttls_url(relay), ca_file=None)).send_due().retrying == 1
    assert relay.logins == [] and relay.received == []
    assert_held_with(outbox, email, says="by the system's authorities (set TELLUSONCE_OUTBOUND_MAIL_CA_FILE")


def test_a_certificate_for_another_name_is_refused(outbox, settings, ca, ca_file):
    email = queue(outbox)
    with TlsRelay(ca.issue_cert("relay.elsewhere.test"), tls="implicit") as relay:
        url = f"smtps://127.0.0.1:{relay.port}"
        assert OutboundMailer(outbox, over(settings, url, ca_file=ca_file)).send_due().retrying == 1
    assert relay.logins == [] and relay.received == []
    waiting = assert_held_with(outbox, email, says="not trusted for 127.0.0.1")
    assert "mismatch" in waiting.last_error


def test_smtps_to_a_relay_that_speaks_no_tls_fails_the_handshake_and_is_held(outbox, settings, ca_file):
    email = queue(outbox)
    with TlsRelay(None, tls="none") as relay:
        url = f"smtps://127.0.0.1:{relay.port}"
        assert OutboundMailer(outbox, over(settings, url, ca_file=ca_file)).send_due().retrying == 1
    assert relay.mail_from == []
    assert_held_with(outbox, email, says=f"the TLS handshake with {url} failed")


def test_a_temporary_login_failure_is_retried_as_usual(outbox, settings, ca, ca_file):
    email = queue(outbox)
    with TlsRelay(ca.issue_cert("127.0.0.1"), tls="starttls",
                  refusal="454 4.7.0 Temporary authentication failure") as relay:
        url = starttls_url(relay)
        mailer = OutboundMailer(outbox, over(settings, url, ca_file=ca_file, password="wrong"))
        assert mailer.send_due().retrying == 1
    waiting = row(outbox, email.id)
    assert waiting.state == OutgoingState.QUEUED and waiting.attempts == 1
    assert waiting.last_error == f"{url} answered 454 4.7.0 Temporary authentication failure"
    assert waiting.next_attempt_at < utcnow() + timedelta(minutes=1)  # the usual backoff, not the relay's hold
