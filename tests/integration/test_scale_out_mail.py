"""A scale-out drill for inbound mail: two ``tellusonce smtpd`` listeners on different ports, one PostgreSQL
database, messages sent to each in turn with smtplib; one listener is killed with -9 right after a 250, and
every message, whichever listener took it, is kept and processed exactly once by one of them (each listener
processes what either stored, so both reach for the same messages).

On SQLite it is skipped: a SQLite file is one machine's database, so there is no second host.
"""

from __future__ import annotations

import os
import signal
import smtplib
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from email import policy

import pytest
from sqlalchemy import Engine

from tellusonce.models import InboundStatus
from tellusonce_mail.replies import UNKNOWN_SENDER
from tests.dispatch_helpers import wait_for
from tests.integration.mail.messages import inbound, outgoing, typed
from tests.mail_helpers import ListenerProcess, listener_process

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]  # processes starting and waited on, on a busy machine

MESSAGES = 60


@pytest.fixture
def shared(committed: Engine) -> Engine:
    if committed.dialect.name != "postgresql":
        pytest.skip("SQLite is one machine's database: two mail hosts need PostgreSQL")
    return committed


def message(n: int) -> bytes:
    """A change from someone without an account, answered once (how to register), so that a second processing
    would show as a second attempt or a second reply. HTML-only, with a long table: a tenth of a second or so
    to read, so that mail arrives faster than it is processed and both listeners work on one backlog."""
    rows = "<tr><td><b>x</b></td><td><i>y</i></td></tr>\n" * 1500
    html = typed("", sender=f"stranger-{n}@example.org")
    html.set_content(f"<p>Change: address</p><p>Postcode: LS{n} 1AA</p><table>{rows}</table>", subtype="html")
    return html.as_bytes(policy=policy.SMTP)


def send(listener: ListenerProcess, numbers: range) -> list[bytes]:
    """Each message in turn on one connection, as a sending mail server would; what was sent."""
    bodies = [message(n) for n in numbers]
    with smtplib.SMTP("127.0.0.1", listener.port, timeout=30) as smtp:
        for n, body in zip(numbers, bodies, strict=True):
            assert smtp.sendmail(f"stranger-{n}@example.org", ["changes@tellusonce.test"], body) == {}
    return bodies


def processed(engine: Engine, count: int) -> bool:
    messages = inbound(engine)
    return len(messages) == count and all(m.status != InboundStatus.RECEIVED for m in messages)


def test_two_listeners_take_mail_at_once_and_every_message_is_processed_once_when_one_dies(shared, database_url,
                                                                                           tmp_path):
    third = MESSAGES // 3
    with listener_process(database_url, tmp_path / "a", new_session=True) as a, \
            listener_process(database_url, tmp_path / "b") as b, ThreadPoolExecutor(2) as senders:
        assert a.port != b.port

        def to_both(numbers: range) -> list[bytes]:
            """Two sending servers at once, one to each listener, as two MX hosts of one domain are used."""
            to_a = senders.submit(send, a, numbers[0::2])
            to_b = senders.submit(send, b, numbers[1::2])
            return to_a.result(timeout=120) + to_b.result(timeout=120)

        # Mail arrives faster than it is read: both listeners work on one backlog, each reaching for the
        # oldest message not yet processed, whichever of them stored it.
        sent = to_both(range(0, third))
        wait_for(lambda: processed(shared, third), timeout=120)
        sent += to_both(range(third, 2 * third))
        os.killpg(a.process.pid, signal.SIGKILL)  # host a dies right after its last 250, its processing unfinished
        a.process.wait(timeout=10)
        sent += send(b, range(2 * third, MESSAGES))  # the sending servers go on to b alone
        wait_for(lambda: processed(shared, MESSAGES), timeout=120)
        assert b.process.poll() is None
    messages = inbound(shared)
    assert Counter(m.raw for m in messages) == Counter(sent)  # every 250 kept, once
    assert Counter((m.status, m.status_reason, m.attempts) for m in messages) == Counter(
        {(InboundStatus.PROCESSED, "answered: unknown sender told how to register", 1): MESSAGES})
    replies = Counter(e.to_address for e in outgoing(shared) if e.purpose == UNKNOWN_SENDER)
    assert replies == Counter({f"stranger-{n}@example.org": 1 for n in range(MESSAGES)})
