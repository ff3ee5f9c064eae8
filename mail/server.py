"""The inbound SMTP listener (``tellusonce smtpd``), in its own process.

One asyncio loop runs every SMTP session; the database work happens on the
message store's writer thread (and processing on its own thread), so neither a
slow commit, a large message nor a client that sends one byte a second holds up
the other sessions. Limits: SIZE is advertised and enforced (552), recipients
per message are capped (452), lines are capped, idle clients are cut off, and
STARTTLS is offered when a certificate is configured.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import ssl
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import Future

from aiosmtpd.smtp import MISSING, SMTP
from sqlalchemy import Engine

from tellusonce.db import make_engine
from tellusonce.settings import Settings
from tellusonce_mail.handler import IntakeHandler
from tellusonce_mail.smtpdata import DataReader, DataState
from tellusonce_mail.store import MessageStore

log = logging.getLogger(__name__)

# RFC 5321 allows 1,000 characters a line; some mail programs send longer lines, so
# the listener tolerates up to 8 KB and refuses a message with a longer one (500).
LINE_LENGTH_LIMIT = 8192


def parse_listen(listen: str) -> tuple[str, int]:
    """``"127.0.0.1:8025"`` or ``"[::1]:25"`` -> host and port."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"expected host:port, not {listen!r}")
    return host.strip("[]") or "0.0.0.0", int(port)


def tls_context(settings: Settings) -> ssl.SSLContext | None:
    if settings.smtp_tls_cert is None or settings.smtp_tls_key is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(settings.smtp_tls_cert), str(settings.smtp_tls_key))
    return context


# Reading one chunk at a time; a DATA section may take this long in all before we hang up.
CHUNK_BYTES = 256 * 1024
DATA_DEADLINE_SECONDS = 600


# Where the DATA section may end: the end of its terminator (<CRLF>.<CRLF>) is always this, and it
# appears in dot-stuffed data only there or after a bare LF, so reading up to it rarely stops early.
_DATA_END = b"\n.\r\n"


async def _read_data(stream: asyncio.StreamReader, reader: DataReader, *, on_chunk: Callable[[], None],
                     too_slow: Callable[[], bool]) -> None:
    """Feed ``reader`` from ``stream`` until the terminator, reading nothing after it.

    Whatever the client sent after the terminator (its next command, when it did not wait for our
    answer) stays in ``stream`` for the session to read. Chunks end at the first possible end of the
    section (``readuntil``) or are what the stream holds when that is more than its limit. The very
    first line is the one place the terminator can be ".<CRLF>" with no LF in the section, so its
    first byte is read on its own. IncompleteReadError: the client went away; TimeoutError: the
    section took longer than ``too_slow`` allows.
    """
    first = await stream.readexactly(1)
    if first == b".":
        first += await stream.readexactly(2)
    done = reader.feed(first)
    unyielded = 0
    while not done:
        try:
            chunk = await stream.readuntil(_DATA_END)
        except asyncio.LimitOverrunError as e:  # no end within the stream's limit: take what is safe
            chunk = await stream.read(e.consumed)
        done = reader.feed(chunk)
        if not done and too_slow():
            raise TimeoutError
        on_chunk()
        unyielded += len(chunk)
        if unyielded >= CHUNK_BYTES:  # many short chunks at once: let the other sessions have the loop
            unyielded = 0
            await asyncio.sleep(0)


class _Session(SMTP):
    """aiosmtpd's session, with DATA read in chunks (see ``tellusonce_mail.smtpdata``)."""

    line_length_limit = LINE_LENGTH_LIMIT

    async def smtp_DATA(self, arg: str) -> None:  # noqa: N802 - aiosmtpd's command method name
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        reader = DataReader(size_limit=self.data_size_limit, line_limit=self.line_length_limit)
        deadline = self.loop.time() + DATA_DEADLINE_SECONDS
        try:
            await _read_data(self._reader, reader, on_chunk=self._reset_timeout,  # data arriving: not idle
                             too_slow=lambda: self.loop.time() > deadline)
        except asyncio.IncompleteReadError:  # the client went away: nothing to answer, nothing kept
            self._hang_up()
            return
        except TimeoutError:
            await self.push("421 4.4.2 Too slow; closing the connection")
            self._hang_up()
            return
        if reader.state is DataState.TOO_LONG:
            await self.push("500 Line too long (see RFC5321 4.5.3.1.6)")
        elif reader.state is DataState.TOO_MUCH:
            await self.push("552 5.3.4 Message too big for this service")
        else:
            self.envelope.content = self.envelope.original_content = reader.content
            status = await self._call_handler_hook("DATA")
            self._set_post_data_state()
            await self.push("250 OK" if status is MISSING else status)
            return
        self._set_post_data_state()

    def _hang_up(self) -> None:
        """Close the connection, as aiosmtpd does on a timeout."""
        if self.transport is not None:
            self.transport.close()


class MailListener:
    """The SMTP server and the message store behind it, on the running event loop."""

    def __init__(
        self,
        settings: Settings,
        *,
        engine: Engine | None = None,
        on_commit: Callable[[int], None] | None = None,
    ) -> None:
        self.settings = settings
        self._owns_engine = engine is None
        self.engine = engine or make_engine(settings.database_url)
        self.store = MessageStore(self.engine, on_commit=on_commit)
        self.handler = IntakeHandler(
            store=self.store, mail_domain=settings.mail_domain, max_recipients=settings.smtp_max_recipients
        )
        self._tls = tls_context(settings)
        self._server: asyncio.Server | None = None
        self._sessions: weakref.WeakSet[SMTP] = weakref.WeakSet()

    def _session(self) -> SMTP:
        session = _Session(
            self.handler,
            data_size_limit=self.settings.max_message_bytes,
            hostname=self.settings.mail_domain,
            ident="Tell us once",
            timeout=self.settings.smtp_idle_timeout,
            tls_context=self._tls,
            require_starttls=False,
            enable_SMTPUTF8=True,
            decode_data=False,
        )
        self._sessions.add(session)
        return session

    async def start(self, host: str, port: int) -> tuple[str, int]:
        """Listen on ``host:port`` (0: any free port); returns the address actually bound."""
        self.store.start()
        self._server = await asyncio.get_running_loop().create_server(self._session, host, port)
        bound = self._server.sockets[0].getsockname()
        log.info("mail listener on %s:%s", bound[0], bound[1], extra={"host": bound[0], "port": bound[1]})
        return bound[0], bound[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for session in list(self._sessions):
                if session.transport is not None:
                    session.transport.close()
            await self._server.wait_closed()
            await asyncio.sleep(0)
            self._server = None
        await asyncio.to_thread(self.store.stop)
        if self._owns_engine:
            self.engine.dispose()


def serve(settings: Settings, *, on_commit: Callable[[int], None] | None = None,
          ready: Callable[[str, int], None] | None = None) -> None:
    """Run the listener on ``settings.smtp_listen`` until SIGINT or SIGTERM."""
    host, port = parse_listen(settings.smtp_listen)

    async def main() -> None:
        listener = MailListener(settings, on_commit=on_commit)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        bound = await listener.start(host, port)
        if ready is not None:
            ready(*bound)
        try:
            await stop.wait()
        finally:
            await listener.close()

    asyncio.run(main())


class ListenerThread:
    """A listener on its own thread and loop: for tests and benchmarks (port 0 picks a free port)."""

    def __init__(self, settings: Settings, *, engine: Engine | None = None,
                 on_commit: Callable[[int], None] | None = None) -> None:
        self.settings = settings
        self._engine = engine
        self._on_commit = on_commit
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="mail-listener", daemon=True)
        self.listener: MailListener | None = None
        self.host = ""
        self.port = 0

    def start(self, host: str = "127.0.0.1", port: int = 0) -> ListenerThread:
        self._thread.start()
        self.listener = MailListener(self.settings, engine=self._engine, on_commit=self._on_commit)
        started: Future[tuple[str, int]] = asyncio.run_coroutine_threadsafe(self.listener.start(host, port), self._loop)
        self.host, self.port = started.result(timeout=10)
        return self

    def stop(self) -> None:
        if self.listener is not None:
            asyncio.run_coroutine_threadsafe(self.listener.close(), self._loop).result(timeout=30)
            self.listener = None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def __enter__(self) -> ListenerThread:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
