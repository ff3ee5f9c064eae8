"""A real SMTP relay for the outbound tests: aiosmtpd on an ephemeral port, keeping what it is given."""

from __future__ import annotations

import asyncio
import threading
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.smtp import SMTP


class Relay:
    """``answer`` is what DATA is answered ("250 OK", "451 try later", "550 no such user")."""

    def __init__(self, answer: str = "250 OK") -> None:
        self.answer = answer
        self.received: list[tuple[str, list[str], EmailMessage]] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self.port = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.answer.startswith("250"):
            parsed = message_from_bytes(envelope.original_content, policy=policy.default)
            self.received.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))  # type: ignore[arg-type]
        return self.answer

    def __enter__(self) -> Relay:
        self._thread.start()

        async def start() -> asyncio.Server:
            return await self._loop.create_server(lambda: SMTP(self, hostname="relay.test"), "127.0.0.1", 0)

        self._server = asyncio.run_coroutine_threadsafe(start(), self._loop).result(timeout=10)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def __exit__(self, *_: object) -> None:
        async def stop() -> None:
            assert self._server is not None
            self._server.close()
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
