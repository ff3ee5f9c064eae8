"""The SMTP listener: what it takes, what it refuses, and that 250 means committed."""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import smtplib
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from tellusonce.db import make_engine, transaction
from tellusonce.models import InboundMessage, InboundStatus
from tellusonce.settings import Settings
from tellusonce_mail.server import ListenerThread

MESSAGE = (
    b"From: Ada <ada@example.org>\r\nTo: changes@tellusonce.test\r\nSubject: Moving house\r\n"
    b"Message-ID: <m1@example.org>\r\n\r\nChange: address\r\n"
)


def stored(engine: Engine) -> list[InboundMessage]:
    with transaction(engine, writer=False) as session:
        return list(session.scalars(select(InboundMessage).order_by(InboundMessage.received_at)))


def client(listener: ListenerThread, timeout: float = 10) -> smtplib.SMTP:
    return smtplib.SMTP(listener.host, listener.port, timeout=timeout)


def test_a_message_to_the_service_address_is_committed_with_its_envelope_before_250(listener, engine):
    with client(listener) as smtp:
        smtp.ehlo("mx.example.org")
        code, reply = smtp.mail("bounces@example.org")
        assert code == 250
        smtp.rcpt("Changes@TellUsOnce.test")
        code, reply = smtp.data(MESSAGE)
        assert code == 250
        rows = stored(engine)
    assert len(rows) == 1
    row = rows[0]
    assert reply.decode().endswith(str(row.id))
    assert row.raw == MESSAGE
    assert row.size == len(MESSAGE)
    assert row.mail_from == "bounces@example.org"
    assert row.rcpt_tos == ["Changes@TellUsOnce.test"]
    assert row.helo == "mx.example.org"
    assert row.peer.startswith("127.0.0.1:")
    assert row.status == InboundStatus.RECEIVED
    assert row.received_at is not None


def test_a_recipient_that_is_not_the_service_is_refused_at_rcpt_so_it_is_no_open_relay(listener, engine):
    with client(listener) as smtp:
        smtp.ehlo()
        smtp.mail("someone@example.org")
        assert smtp.rcpt("victim@example.com")[0] == 550
        assert smtp.rcpt("postmaster@tellusonce.test")[0] == 550
        assert smtp.rcpt("changes@tellusonce.test.example.com")[0] == 550
        assert smtp.rcpt("confirm+short@tellusonce.test")[0] == 550
        with pytest.raises(smtplib.SMTPDataError) as refused:
            smtp.data(MESSAGE)
        assert refused.value.smtp_code == 503
    assert stored(engine) == []


def test_a_reply_to_a_confirmation_address_is_accepted(listener, engine):
    with client(listener) as smtp:
        smtp.sendmail("ada@example.org", ["confirm+abcdefghijklmnopqrstuvwxyz234567@tellusonce.test"], MESSAGE)
    assert [row.rcpt_tos for row in stored(engine)] == [["confirm+abcdefghijklmnopqrstuvwxyz234567@tellusonce.test"]]


def test_a_bounce_with_an_empty_sender_is_kept_with_an_empty_mail_from(listener, engine):
    with client(listener) as smtp:
        smtp.sendmail("<>", ["changes@tellusonce.test"], MESSAGE)
    assert [row.mail_from for row in stored(engine)] == [""]


def test_size_is_advertised_and_a_declared_or_actual_larger_message_gets_552(listener, mail_settings, engine):
    limit = mail_settings.max_message_bytes
    with client(listener) as smtp:
        smtp.ehlo()
        assert smtp.has_extn("size")
        assert int(smtp.esmtp_features["size"]) == limit
        code, _ = smtp.mail("ada@example.org", [f"SIZE={limit + 1}"])
        assert code == 552
        smtp.rset()
        smtp.mail("ada@example.org")
        smtp.rcpt("changes@tellusonce.test")
        line = b"x" * 998 + b"\r\n"
        code, _ = smtp.data(MESSAGE + line * (limit // len(line) + 1))
        assert code == 552
        # The session carries on: a message within the limit is taken.
        smtp.sendmail("ada@example.org", ["changes@tellusonce.test"], MESSAGE)
    assert len(stored(engine)) == 1


def test_more_recipients_than_the_cap_get_452(listener, mail_settings):
    assert mail_settings.smtp_max_recipients == 3
    with client(listener) as smtp:
        smtp.ehlo()
        smtp.mail("ada@example.org")
        codes = [smtp.rcpt("changes@tellusonce.test")[0] for _ in range(4)]
    assert codes == [250, 250, 250, 452]


def test_a_line_longer_than_the_cap_is_refused_and_nothing_is_kept(listener, engine):
    with client(listener) as smtp:
        smtp.ehlo()
        smtp.mail("ada@example.org")
        smtp.rcpt("changes@tellusonce.test")
        code, _ = smtp.data(MESSAGE + b"y" * 20_000 + b"\r\n")
    assert code == 500
    assert stored(engine) == []


def test_an_idle_client_is_disconnected(mail_settings, engine):
    quick = dataclasses.replace(mail_settings, smtp_idle_timeout=1)
    with ListenerThread(quick, engine=engine) as running, socket.create_connection(
        (running.host, running.port), timeout=5
    ) as sock:
        assert sock.recv(1024).startswith(b"220")
        started = time.monotonic()
        assert sock.recv(1024) == b""  # the server hung up
        assert time.monotonic() - started < 4


def test_a_failed_commit_answers_451_so_the_sender_tries_again(mail_settings, tmp_path):
    unmigrated = make_engine(f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    try:
        with ListenerThread(mail_settings, engine=unmigrated) as running, client(running) as smtp:
            smtp.ehlo()
            smtp.mail("ada@example.org")
            smtp.rcpt("changes@tellusonce.test")
            code, reply = smtp.data(MESSAGE)
    finally:
        unmigrated.dispose()
    assert code == 451
    assert b"try again" in reply


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make a certificate")
def test_starttls_is_offered_when_a_certificate_is_configured(mail_settings, engine, database_cleaner, tmp_path: Path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    with_tls: Settings = dataclasses.replace(mail_settings, smtp_tls_cert=cert, smtp_tls_key=key)
    context = ssl.create_default_context(cafile=str(cert))
    context.check_hostname = False
    with ListenerThread(with_tls, engine=engine) as running, client(running) as smtp:
        smtp.ehlo()
        assert smtp.has_extn("starttls")
        assert smtp.starttls(context=context)[0] == 220
        smtp.sendmail("ada@example.org", ["changes@tellusonce.test"], MESSAGE)
    try:
        assert len(stored(engine)) == 1
    finally:
        database_cleaner(engine)


def test_no_starttls_is_offered_without_a_certificate(listener):
    with client(listener) as smtp:
        smtp.ehlo()
        assert not smtp.has_extn("starttls")


def test_commands_sent_with_the_message_before_its_answer_are_kept_and_answered_in_order(listener, engine):
    """A client that does not wait for the answer to DATA (or to the message): every byte after the
    terminator is its next command, whether it came with the message's last bytes or after them."""
    with socket.create_connection((listener.host, listener.port), timeout=10) as sock:
        replies = sock.makefile("rb")
        assert replies.readline().startswith(b"220")
        sock.sendall(b"HELO mx.example.org\r\nMAIL FROM:<ada@example.org>\r\nRCPT TO:<changes@tellusonce.test>\r\n")
        assert [replies.readline()[:3] for _ in range(3)] == [b"250"] * 3
        sock.sendall(b"DATA\r\n")
        assert replies.readline().startswith(b"354")
        # The message, its terminator and the next message's commands in one write; then the rest.
        sock.sendall(MESSAGE + b".\r\nMAIL FROM:<grace@example.org>\r\nRCPT TO:<changes@tellusonce.test>\r\nDATA\r\n")
        assert [replies.readline()[:3] for _ in range(4)] == [b"250", b"250", b"250", b"354"]
        sock.sendall(b".\r\nQUIT\r\n")  # an empty message: the terminator straight after DATA
        assert [replies.readline()[:3] for _ in range(2)] == [b"250", b"221"]
    kept = stored(engine)
    assert [m.mail_from for m in kept] == ["ada@example.org", "grace@example.org"]
    assert kept[0].raw == MESSAGE
    assert kept[1].raw == b""


def _open_data(sock: socket.socket) -> None:
    """Greeting, envelope and DATA on a raw socket, each answer read before the next command."""
    replies = sock.makefile("rb")
    assert replies.readline().startswith(b"220")
    for command, code in ((b"HELO mx.example.org", b"250"), (b"MAIL FROM:<ada@example.org>", b"250"),
                          (b"RCPT TO:<changes@tellusonce.test>", b"250"), (b"DATA", b"354")):
        sock.sendall(command + b"\r\n")
        assert replies.readline().startswith(code)


def _drip(sock: socket.socket, pieces: list[bytes], every: float) -> None:
    for piece in pieces:
        time.sleep(every)
        sock.sendall(piece)


def test_a_message_that_arrives_slowly_but_steadily_outlasts_the_idle_timeout(mail_settings, engine,
                                                                                 database_cleaner):
    """Data arriving is not idleness: aiosmtpd's own timer counts only from the DATA command."""
    quick = dataclasses.replace(mail_settings, smtp_idle_timeout=1)
    lines = [MESSAGE] + [b"line %d\r\n" % n for n in range(10)] + [b".\r\n"]
    try:
        with ListenerThread(quick, engine=engine) as running, socket.create_connection(
            (running.host, running.port), timeout=10
        ) as sock:
            _open_data(sock)
            _drip(sock, lines, every=0.3)  # about 3.6 s in all, never 1 s without a byte
            assert sock.recv(1024).startswith(b"250")
        assert [row.raw for row in stored(engine)] == [b"".join(lines[:-1])]
    finally:
        database_cleaner(engine)


def test_a_client_that_sends_bytes_but_never_a_whole_command_is_still_idle(mail_settings, engine):
    quick = dataclasses.replace(mail_settings, smtp_idle_timeout=1)
    with ListenerThread(quick, engine=engine) as running, socket.create_connection(
        (running.host, running.port), timeout=10
    ) as sock:
        assert sock.recv(1024).startswith(b"220")
        started = time.monotonic()
        with pytest.raises((BrokenPipeError, ConnectionResetError)):
            _drip(sock, [b"E"] * 40, every=0.2)  # 8 s of one byte at a time, never a line
        assert time.monotonic() - started < 4


def test_a_data_section_longer_than_the_deadline_is_answered_421_and_nothing_is_kept(
        mail_settings, engine, monkeypatch):
    monkeypatch.setattr("tellusonce_mail.server.DATA_DEADLINE_SECONDS", 1)
    with ListenerThread(mail_settings, engine=engine) as running, socket.create_connection(
        (running.host, running.port), timeout=10
    ) as sock:
        _open_data(sock)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            _drip(sock, [MESSAGE] + [b"line\r\n"] * 20, every=0.2)  # 4 s, well within the idle timeout
        answer = sock.recv(1024)
        assert answer.startswith(b"421"), answer
        assert sock.recv(1024) == b""
    assert stored(engine) == []


def test_a_message_sent_with_its_data_command_before_354_is_read_as_the_message(listener, engine):
    """RFC 5321 wants the client to wait for 354; one that does not still has its message read as a message,
    not as commands."""
    with socket.create_connection((listener.host, listener.port), timeout=10) as sock:
        replies = sock.makefile("rb")
        assert replies.readline().startswith(b"220")
        sock.sendall(b"HELO mx.example.org\r\nMAIL FROM:<ada@example.org>\r\nRCPT TO:<changes@tellusonce.test>\r\n"
                     b"DATA\r\n" + MESSAGE + b"RSET\r\n.\r\nQUIT\r\n")
        assert [replies.readline()[:3] for _ in range(6)] == [b"250", b"250", b"250", b"354", b"250", b"221"]
    assert [row.raw for row in stored(engine)] == [MESSAGE + b"RSET\r\n"]


def test_a_client_that_sends_far_more_than_we_have_answered_is_cut_off_with_421(listener, engine):
    with socket.create_connection((listener.host, listener.port), timeout=10) as sock:
        replies = sock.makefile("rb")
        assert replies.readline().startswith(b"220")
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(b"NOOP\r\n" * 20_000)  # 120 KB of commands without reading one answer
        answers = []
        with contextlib.suppress(ConnectionResetError):
            answers = replies.readlines()
    assert answers and answers[-1].startswith(b"421"), answers[-3:]
    assert len(answers) < 20_000
