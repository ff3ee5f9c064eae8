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
from typing import Any, AnyStr

from aiosmtpd.smtp import SMTP, Envelope
from sqlalchemy import Engine

from tellusonce.db import make_engine
from tellusonce.settings import Settings
from tellusonce_mail.handler import IntakeHandler
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


# A DATA section may take this long in all before we answer 421 and hang up.
DATA_DEADLINE_SECONDS = 600


class _Session(SMTP):
    """aiosmtpd's session with its own DATA reading, and our clock for idleness and slow DATA.

    aiosmtpd's timer (``timeout``) counts from the last command it recognised, so a message that
    takes longer than the idle timeout to arrive would be cut off however steadily it comes. This
    session keeps its own clock instead, through documented methods only (``push`` and the asyncio
    protocol's ``connection_made``, ``data_received`` and ``connection_lost``): a reply restarts it
    (the client finished a command; one that sends bytes but never a whole line stays idle), and
    so does each piece of the message while DATA is read, for at most ``DATA_DEADLINE_SECONDS``
    (then 421). aiosmtpd's own timer stays as a backstop, longer than both.
    """

    line_length_limit = LINE_LENGTH_LIMIT  # aiosmtpd's documented class attribute; also its stream's limit

    def __init__(self, handler: IntakeHandler, *, idle_timeout: float, **kwargs: Any) -> None:
        super().__init__(handler, timeout=DATA_DEADLINE_SECONDS + 2 * idle_timeout, **kwargs)
        # Double underscores: mangled to _Session__..., so never one of aiosmtpd's own attributes.
        self.__idle_timeout = idle_timeout
        self.__idle: asyncio.TimerHandle | None = None
        self.__data_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # also after STARTTLS, with the TLS transport
        self.__restart_idle()

    def connection_lost(self, error: Exception | None) -> None:
        for handle in (self.__idle, self.__data_deadline):
            if handle is not None:
                handle.cancel()
        super().connection_lost(error)

    def data_received(self, data: bytes) -> None:
        if self.__data_deadline is not None:  # the message is arriving: not idle
            self.__restart_idle()
        super().data_received(data)

    async def push(self, status: AnyStr) -> None:
        self.__restart_idle()  # a command has been answered
        reply = status.encode() if isinstance(status, str) else status
        if self.__data_deadline is not None and not reply.startswith(b"354"):
            self.__stop_data_deadline()  # DATA has been answered (250, 451, 500, 552): no longer reading it
        await super().push(status)

    async def smtp_DATA(self, arg: str) -> None:  # noqa: N802 - aiosmtpd's command method name
        envelope = self.envelope
        self.__data_deadline = self.loop.call_later(DATA_DEADLINE_SECONDS, self.__too_slow, envelope)
        try:
            await super().smtp_DATA(arg)
        finally:
            self.__stop_data_deadline()

    def __stop_data_deadline(self) -> None:
        if self.__data_deadline is not None:
            self.__data_deadline.cancel()
            self.__data_deadline = None

    def __restart_idle(self) -> None:
        if self.__idle is not None:
            self.__idle.cancel()
        self.__idle = self.loop.call_later(self.__idle_timeout, self.__hang_up, None)

    def __too_slow(self, envelope: Envelope | None) -> None:
        self.__data_deadline = None
        if envelope is not None and envelope.content is not None:
            return  # all of it arrived and is being kept: the handler answers
        self.__hang_up(b"421 4.4.2 Too slow; closing the connection\r\n")

    def __hang_up(self, last_words: bytes | None) -> None:
        """Close the connection, as aiosmtpd does on its own timeout (saying why, for a slow DATA)."""
        if self.transport is None:
            return
        log.info("closing an SMTP session: %s", "idle" if last_words is None else "DATA too slow")
        if last_words is not None and isinstance(self.transport, asyncio.WriteTransport):
            self.transport.write(last_words)
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
            idle_timeout=self.settings.smtp_idle_timeout,
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
