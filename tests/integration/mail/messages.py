"""Messages as people and robots send them, for the mail tests."""

from __future__ import annotations

from contextlib import contextmanager
from email.message import EmailMessage
from email.utils import make_msgid

from sqlalchemy import Engine, select, text

from tellusonce.db import transaction
from tellusonce.models import InboundMessage, OutgoingEmail
from tellusonce.settings import Settings
from tellusonce_mail.processing import Outcome, process_next
from tests.factories import NOW, make_citizen


def typed(body: str, *, sender: str = "ada@example.org", subject: str = "My change", **headers: str) -> EmailMessage:
    """A plain-text email as a person writes it."""
    message = EmailMessage()
    message["From"] = f"Ada Okafor <{sender}>"
    message["To"] = "changes@tellusonce.test"
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="example.org")
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message


# The signature delimiter is "-- " with its trailing space (RFC 3676): pyproject.toml lets W291 pass in this file.
MOVE = """Hello,

Change: moving house
New address: 5 Park Road, Leeds, LS2 9JT
Date of move: 1/11/2026
Tell: DVLA, HMRC

Thanks,
Ada
-- 
Ada Okafor
07700 900 982
"""


# The message that froze the service (issue 14): a confirmed account's From, and a line of spaces.
BAD = (b"From: Ada Okafor <ada@example.org>\r\nTo: changes@tellusonce.test\r\nSubject: My change\r\n"
       b"Content-Type: text/plain; charset=utf-8\r\n\r\nChange: moving house\r\n" + b" " * 1500 + b"x\r\n")


def slow_html() -> bytes:
    """An HTML-only change in a table of 20,000 rows: seconds of work for html2text, whoever sends it."""
    rows = b"<tr><td><b>x</b></td><td><i>y</i></td></tr>\r\n" * 20_000
    return (b"From: ada@example.org\r\nTo: changes@tellusonce.test\r\nSubject: Moving house\r\n"
            b"Content-Type: text/html; charset=utf-8\r\n\r\n<p>Change: moving house</p><p>Tell: DVLA</p><table>"
            + rows + b"</table>\r\n")


def process_all(engine: Engine, settings: Settings, *, now=NOW) -> list[Outcome]:
    outcomes = []
    while (outcome := process_next(engine, settings, now=now)) is not None:
        outcomes.append(outcome)
    return outcomes


def add_citizen(engine: Engine, **overrides) -> str:
    with transaction(engine) as session:
        return make_citizen(session, **{"email": "ada@example.org", **overrides}).email


def outgoing(engine: Engine) -> list[OutgoingEmail]:
    with transaction(engine, writer=False) as session:
        return list(session.scalars(select(OutgoingEmail).order_by(OutgoingEmail.created_at)))


def inbound(engine: Engine) -> list[InboundMessage]:
    with transaction(engine, writer=False) as session:
        return list(session.scalars(select(InboundMessage).order_by(InboundMessage.received_at)))


@contextmanager
def language_check_lifted(engine):
    """The database's check on citizen.language lifted for what runs inside (it refuses a language
    the service has no locale for since migration 0007), and put back after.

    Both on one connection: each SQLite connection keeps its own copy of the schema, and another one
    from the pool, its copy read before the DROP, would refuse the CREATE TRIGGER ("already exists")
    without looking at the file again, as SQLite does for a name it believes taken."""
    sqlite = engine.dialect.name == "sqlite"
    lift = (["DROP TRIGGER ck_citizen_language_insert"] if sqlite
            else ["ALTER TABLE citizen DROP CONSTRAINT ck_citizen_language"])
    with engine.connect() as connection:
        with connection.begin():
            for statement in lift:
                connection.execute(text(statement))
        try:
            yield
        finally:
            with connection.begin():
                if sqlite:
                    connection.execute(text(
                        "CREATE TRIGGER ck_citizen_language_insert BEFORE INSERT ON citizen FOR EACH ROW "
                        "WHEN NOT (NEW.language IN ('en', 'cy')) "
                        "BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: ck_citizen_language'); END"))
                else:
                    connection.execute(text("ALTER TABLE citizen ADD CONSTRAINT ck_citizen_language "
                                            "CHECK (language IN ('en', 'cy')) NOT VALID"))
