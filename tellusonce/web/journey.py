"""The report journey's session model: the answers kept between pages, on the server.

Only a random journey id travels in Flask's (signed, not encrypted) session
cookie; the answers live in a small JSON file under the instance folder. Why not
the cookie itself: a cookie holds about 4 KB, and a birth report with long
addresses and names in a non-Latin script (each character escaped to six bytes
in JSON) can pass that, at which point the browser silently drops the cookie
and the citizen's answers with it. It would also copy a National Insurance
number and an address into every request, readable by anyone who can read the
cookie. Why not a database table: the issue asks that only the final step
writes to the database, so that an abandoned journey leaves nothing there.

A journey belongs to one citizen and is forgotten a day after its last change,
or when a new one starts. Once sent, the session cookie (which is signed, and is
written on that response anyway) says which report the journey made; the file
is not written again. Files are written atomically (a temporary file, then
``os.replace``), so gunicorn workers on one host share them safely; several
hosts need the instance folder on shared storage.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import current_app, session

from tellusonce.clock import utcnow

log = logging.getLogger(__name__)

SESSION_KEY = "report_journey"
SUBMITTED_KEY = "report_journey_sent"  # [journey id, report id] once the journey in SESSION_KEY is sent
LIFETIME_SECONDS = 24 * 60 * 60
SWEEP_EVERY_SECONDS = 10 * 60
_ID = re.compile(r"^[0-9a-f]{32}$")
_WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


@dataclass
class Journey:
    """Everything asked so far in one report; nothing here is in the database yet."""

    id: str
    citizen_id: str
    change_type: str
    submission_key: str
    started_at: str
    answers: dict[str, Any] = field(default_factory=dict)
    # Organisations chosen, and the consent given now ("once" | "always") for those without standing consent.
    recipients: list[str] = field(default_factory=list)
    consent: dict[str, str] = field(default_factory=dict)
    chose_recipients: bool = False
    # Set once submitted (from the session: ``mark_submitted``): a second submit finds the same report.
    report_id: str | None = None
    # When it was last saved, by the service's clock (not the file's time: tellusonce/clock.py).
    saved_at: str = ""

    def older_than(self, seconds: int) -> bool:
        return bool(self.saved_at) and (utcnow() - datetime.fromisoformat(self.saved_at)).total_seconds() > seconds

    @classmethod
    def start(cls, citizen_id: uuid.UUID, change_type: str) -> Journey:
        return cls(
            id=secrets.token_hex(16),
            citizen_id=str(citizen_id),
            change_type=change_type,
            # Minted once per journey: submitting twice gives the same key, so one report.
            submission_key=f"web-{secrets.token_hex(16)}",
            started_at=utcnow().isoformat(),
        )

    def set_answers(self, names: tuple[str, ...], values: dict[str, Any]) -> None:
        """Replace the answers to one page's questions. An emptied answer is kept as None: the
        question was answered, so what the account would fill in (a previous address) stays out."""
        for name in names:
            self.answers.pop(name, None)
        self.answers.update({k: (None if v == "" else v) for k, v in values.items()})

    @property
    def submitted(self) -> bool:
        return self.report_id is not None


class JourneyStore:
    """Journeys as files in ``<instance>/journeys``, one per journey id."""

    _last_sweep: dict[Path, float] = {}

    def __init__(self, directory: Path, *, lifetime: int = LIFETIME_SECONDS) -> None:
        self.directory = directory
        self.lifetime = lifetime

    def _path(self, journey_id: str) -> Path | None:
        return self.directory / f"{journey_id}.json" if _ID.match(journey_id or "") else None

    def load(self, journey_id: str, citizen_id: uuid.UUID) -> Journey | None:
        path = self._path(journey_id)
        if path is None:
            return None
        try:
            journey = Journey(**json.loads(path.read_text(encoding="utf-8")))
            if journey.older_than(self.lifetime):
                path.unlink(missing_ok=True)
                return None
        except (OSError, ValueError, TypeError):
            return None
        if journey.citizen_id != str(citizen_id):
            return None
        return journey

    def save(self, journey: Journey) -> None:
        path = self._path(journey.id)
        if path is None:
            raise ValueError("not a journey id")
        journey.saved_at = utcnow().isoformat()
        body = json.dumps(asdict(journey), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        # A temporary name of this process and thread alone, then one rename: a reader sees the old
        # journey or the new one, never half of one. (One unbuffered write, not mkstemp and a
        # buffered file: the last step of every report saves its journey.)
        temporary = self.directory / f".journey-{journey.id}-{os.getpid()}-{threading.get_ident()}.tmp"
        try:
            fd = os.open(temporary, _WRITE_FLAGS, 0o600)
        except FileNotFoundError:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(temporary, _WRITE_FLAGS, 0o600)
        try:
            try:
                view = memoryview(body)
                while view:
                    view = view[os.write(fd, view):]
            finally:
                os.close(fd)
            os.replace(temporary, path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise

    def discard(self, journey_id: str) -> None:
        path = self._path(journey_id)
        if path is not None:
            path.unlink(missing_ok=True)

    def sweep_now_and_then(self) -> None:
        """Sweep at most every ten minutes per process, so starting a journey stays cheap."""
        now = time.monotonic()
        if now - self._last_sweep.get(self.directory, -SWEEP_EVERY_SECONDS) >= SWEEP_EVERY_SECONDS:
            self._last_sweep[self.directory] = now
            self.sweep()

    def sweep(self) -> int:
        """Forget journeys nobody has touched for a day; returns how many."""
        removed = 0
        for entry in self._entries():
            try:
                if self._abandoned(entry):
                    os.unlink(entry.path)
                    removed += 1
            except OSError:
                continue
        if removed:
            log.info("forgot %s abandoned report journeys", removed, extra={"event": "journeys_swept"})
        return removed

    def _abandoned(self, entry: os.DirEntry[str]) -> bool:
        """A journey by when it was saved; a temporary file left by a crash (or an unreadable
        journey) by the file's own time."""
        if entry.name.endswith(".json"):
            try:
                saved_at = json.loads(Path(entry.path).read_text(encoding="utf-8")).get("saved_at")
                if isinstance(saved_at, str) and saved_at:
                    return (utcnow() - datetime.fromisoformat(saved_at)).total_seconds() > self.lifetime
            except (ValueError, AttributeError):
                pass
        return time.time() - entry.stat().st_mtime > self.lifetime

    def _entries(self) -> Iterator[os.DirEntry[str]]:
        try:
            with os.scandir(self.directory) as entries:
                yield from (e for e in entries if e.name.endswith((".json", ".tmp")))
        except FileNotFoundError:
            return


def store() -> JourneyStore:
    return JourneyStore(Path(current_app.instance_path) / "journeys")


def current_journey(citizen_id: uuid.UUID) -> Journey | None:
    """The signed-in citizen's journey, from the id in their session (with its report, once sent)."""
    journey_id = session.get(SESSION_KEY)
    if not isinstance(journey_id, str):
        return None
    journey = store().load(journey_id, citizen_id)
    if journey is not None and journey.report_id is None:
        sent = session.get(SUBMITTED_KEY)
        if isinstance(sent, list) and len(sent) == 2 and sent[0] == journey.id and isinstance(sent[1], str):
            journey.report_id = sent[1]
    return journey


def mark_submitted(journey: Journey, report_id: uuid.UUID) -> None:
    """Remember in the session that ``journey`` made this report: sending again, or its check page,
    goes to the report's confirmation. The journey's file is not written again (the last step of
    every report would pay for a file write; the cookie is written on this response anyway)."""
    journey.report_id = str(report_id)
    session[SUBMITTED_KEY] = [journey.id, journey.report_id]


def begin_journey(citizen_id: uuid.UUID, change_type: str) -> Journey:
    """A new journey replaces the one in the session (if any)."""
    journeys = store()
    old = session.get(SESSION_KEY)
    if isinstance(old, str):
        journeys.discard(old)
    journeys.sweep_now_and_then()
    journey = Journey.start(citizen_id, change_type)
    journeys.save(journey)
    session[SESSION_KEY] = journey.id
    session.pop(SUBMITTED_KEY, None)
    return journey


def save_journey(journey: Journey) -> None:
    store().save(journey)
