"""The inbound SMTP listener (``tellusonce smtpd``), in its own process.

One asyncio loop runs every SMTP session; the database work happens on the
message store's writer thread (and processing on its own thread), so neither a
slow commit, a large message nor a client that sends one byte a second holds up
the other sessions. Limits: SIZE is advertised and enforced (552), recipients
per message are capped (452), lines are capped at 8 KB (500), a client idle for
the idle timeout is cut off (a message arriving is not idleness), a DATA section
gets 10 minutes (then 421), a client that sends 64 KB before we have answered it
is cut off (421), and STARTTLS is offered when a certificate is configured.

Only aiosmtpd's and asyncio's public API is used: documented overrides of
``smtp_DATA`` and ``push`` and of the protocol's ``data_received``,
``connection_made`` and ``connection_lost`` (``_Session`` says how).
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


# A DATA section may take this long in all before we answer 421 and hang up.
DATA_DEADLINE_SECONDS = 600
# What a client may send before we have answered it (a pipelined group is a few hundred bytes).
UNANSWERED_BYTES_LIMIT = 64 * 1024


def _is_final(reply: bytes) -> bool:
    """A reply's last line: ``250 OK`` ends the answer, ``250-SIZE ...`` does not."""
    return reply.rstrip(b"\r\n").rsplit(b"\n", 1)[-1][3:4] != b"-"


class _Session(SMTP):
    """aiosmtpd's session, with DATA read in chunks and our own clock for idleness and slow DATA.

    Only documented methods are overridden: aiosmtpd's ``smtp_DATA`` and ``push``, and the asyncio
    protocol's ``connection_made``, ``data_received`` and ``connection_lost``. Everything the client
    sends passes through ``data_received``: aiosmtpd is given one line at a time, the next once the
    last has its final reply, and after our 354 the message goes to a ``DataReader`` instead (see
    ``tellusonce_mail.smtpdata``) and never reaches aiosmtpd's stream, which reads line by line in
    Python (aiosmtpd #293). What follows the terminator is handed on as the next lines.

    aiosmtpd's timer (``timeout``) counts from the last command it recognised, so a message that
    takes longer than the idle timeout to arrive would be cut off however steadily it comes. Our
    clock is restarted by each reply (the client finished a command; one that sends bytes but never
    a whole line stays idle) and by each piece of a message, for at most ``DATA_DEADLINE_SECONDS``
    (then 421). aiosmtpd's own timer stays as a backstop, longer than both.
    """

    line_length_limit = LINE_LENGTH_LIMIT  # aiosmtpd's documented class attribute; also its stream's limit

    def __init__(self, handler: IntakeHandler, *, idle_timeout: float, **kwargs: Any) -> None:
        super().__init__(handler, timeout=DATA_DEADLINE_SECONDS + 2 * idle_timeout, **kwargs)
        # Double underscores: mangled to _Session__..., so never one of aiosmtpd's own attributes.
        self.__idle_timeout = idle_timeout
        self.__idle: asyncio.TimerHandle | None = None
        self.__data_deadline: asyncio.TimerHandle | None = None
        self.__held = bytearray()  # received, not yet given to aiosmtpd
        self.__owed = True  # aiosmtpd owes a final reply (to the connection: its greeting; a line; a message)
        self.__line_open = False  # part of a line has been given to aiosmtpd: the rest follows it
        self.__message: DataReader | None = None  # after our 354, until the terminator
        self.__message_done: asyncio.Future[None] | None = None
        self.__connected = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        if self.__connected:  # again after STARTTLS: what came before the handshake is dropped (RFC 3207)
            self.__held.clear()
            self.__owed = self.__line_open = False
        self.__connected = True
        self.__restart_idle()

    def connection_lost(self, error: Exception | None) -> None:
        for handle in (self.__idle, self.__data_deadline):
            if handle is not None:
                handle.cancel()
        self.__held.clear()
        super().connection_lost(error)

    def data_received(self, data: bytes) -> None:
        if self.__message is not None:
            self.__restart_idle()  # the message is arriving: not idle
            if not self.__message.feed(data):
                return
            data = self.__message.leftover
            self.__message = None
            self.__owed = True  # the message's answer
            if self.__message_done is not None and not self.__message_done.done():
                self.__message_done.set_result(None)
        self.__held += data
        if len(self.__held) > UNANSWERED_BYTES_LIMIT:
            self.__hang_up(b"421 4.7.0 Too much sent before our answers; closing the connection\r\n")
            return
        self.__hand_on()

    def __hand_on(self) -> None:
        """Give aiosmtpd what it may read now: the rest of a line begun, or the next line once answered."""
        while self.__held and (self.__line_open or not self.__owed):
            end = self.__held.find(b"\n")
            if end < 0:
                piece = bytes(self.__held)
                self.__held.clear()
                self.__line_open = True
            else:
                piece = bytes(self.__held[: end + 1])
                del self.__held[: end + 1]
                self.__line_open = False
                self.__owed = True
            super().data_received(piece)

    async def push(self, status: AnyStr) -> None:
        self.__restart_idle()  # a command has been answered
        reply = status.encode() if isinstance(status, str) else status
        if self.__data_deadline is not None and not reply.startswith(b"354"):
            self.__stop_data_deadline()  # DATA has been answered (250, 451, 500, 552): no longer reading it
        if _is_final(reply) and self.__owed:
            self.__owed = False
            # Before waiting for the reply to be written, so that what came first is read first.
            held = bytes(self.__held)
            self.__held.clear()
            if held:
                self.data_received(held)
        await super().push(status)

    async def smtp_DATA(self, arg: str) -> None:  # noqa: N802 - aiosmtpd's command method name
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        envelope = self.envelope
        assert envelope is not None
        if not envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        reader = DataReader(size_limit=self.data_size_limit, line_limit=self.line_length_limit)
        self.__message, self.__message_done = reader, self.loop.create_future()
        self.__data_deadline = self.loop.call_later(DATA_DEADLINE_SECONDS, self.__too_slow, envelope)
        try:
            await self.push("354 End data with <CR><LF>.<CR><LF>")
            await self.__message_done
        finally:
            self.__message = self.__message_done = None
        if reader.state is DataState.TOO_LONG:
            await self.__answer_data("500 Line too long (see RFC5321 4.5.3.1.6)")
        elif reader.state is DataState.TOO_MUCH:
            await self.__answer_data("552 5.3.4 Message too big for this service")
        else:
            envelope.content = envelope.original_content = reader.content
            await self.__answer_data(await self.event_handler.handle_DATA(self, self.session, envelope))

    async def __answer_data(self, status: str) -> None:
        self.envelope = Envelope()  # the next message starts afresh, as after aiosmtpd's own DATA
        self.__stop_data_deadline()
        await self.push(status)

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
        """Close the connection, as aiosmtpd does on its own timeout (saying why, unless idle)."""
        if self.transport is None:
            return
        log.info("closing an SMTP session: %s", "idle" if last_words is None else last_words[:3].decode())
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
