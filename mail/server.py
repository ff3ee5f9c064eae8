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

from mail.handler import IntakeHandler
from mail.smtpdata import DataReader, DataState
from mail.store import MessageStore
from tellusonce.db import make_engine
from tellusonce.settings import Settings

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


class _Session(SMTP):
    """aiosmtpd's session, with DATA read in chunks (see ``mail.smtpdata``)."""

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
        while True:
            chunk = await self._reader.read(CHUNK_BYTES)
            if not chunk:  # the client went away: nothing to answer, nothing kept
                self._writer.close()
                return
            if reader.feed(chunk):
                break
            if self.loop.time() > deadline:
                await self.push("421 4.4.2 Too slow; closing the connection")
                self._writer.close()
                return
            self._reset_timeout()  # data is arriving: the client is not idle
        if reader.leftover:  # a client that did not wait for our answer: keep its next command
            self._reader._buffer[:0] = reader.leftover  # type: ignore[attr-defined]  # StreamReader has no public way to push bytes back
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
