"""A PostgreSQL server of a test's own, for drills that stop and start it.

The machine's shared cluster cannot be restarted in the middle of the suite (the
suite's own connections, and other people's, are on it), so a drill that needs a
restart runs ``initdb`` into a temporary directory and starts a private server:
on 127.0.0.1 at a free port, its unix socket in that directory, without fsync.
``initdb`` and ``postgres`` refuse to run as root, so as root they run as the
``postgres`` OS user (``runuser``), in a directory that user owns.

``unavailable()`` says why no such server can be started here (or None).
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from sqlalchemy import text

from tellusonce.db import engine_for

SEARCH = "/usr/lib/postgresql/*/bin"
OS_USER = "postgres"  # who runs the server when the tests run as root


def _bin_dir() -> Path | None:
    """The newest installed PostgreSQL's binaries, or those on PATH."""
    candidates = sorted(Path("/").glob(SEARCH.lstrip("/")), key=lambda p: int(p.parent.name)
                        if p.parent.name.isdigit() else 0, reverse=True)
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    for directory in candidates:
        if all((directory / name).is_file() for name in ("initdb", "pg_ctl", "postgres")):
            return directory
    return None


def _runuser() -> str | None:
    return shutil.which("runuser", path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"]))


def unavailable() -> str | None:
    if _bin_dir() is None:
        return f"no PostgreSQL server binaries (initdb, pg_ctl, postgres) under {SEARCH} or on PATH"
    if os.geteuid() == 0:
        if _runuser() is None:
            return "running as root, and there is no runuser to start PostgreSQL as another user"
        try:
            pwd.getpwnam(OS_USER)
        except KeyError:
            return f"running as root, and there is no {OS_USER!r} OS user to run PostgreSQL as"
    return None


class PrivatePostgres:
    """``with PrivatePostgres(port) as pg:`` initdb, start, a database ``pg.url``; stopped and removed after."""

    def __init__(self, port: int, database: str = "tellusonce") -> None:
        reason = unavailable()
        if reason:
            raise RuntimeError(reason)
        self.bin = _bin_dir()
        self.port = port
        self.database = database
        self.root = Path(tempfile.mkdtemp(prefix="tuo-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.as_user = [str(_runuser()), "-u", OS_USER, "--"] if os.geteuid() == 0 else []

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{self.database}"

    def _run(self, tool: str, *args: str) -> None:
        assert self.bin is not None
        done = subprocess.run([*self.as_user, str(self.bin / tool), *args], capture_output=True, text=True,
                              timeout=60, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}\n"
                               f"server log:\n{self.server_log()}")

    def server_log(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        self._run("pg_ctl", "--pgdata", str(self.data), "--log", str(self.log), "--wait", "--timeout", "30", "start")

    def stop(self, mode: str = "fast") -> None:
        """``fast`` ends every session and shuts down cleanly; ``immediate`` is a crash (recovery at start)."""
        self._run("pg_ctl", "--pgdata", str(self.data), "--mode", mode, "--wait", "--timeout", "30", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def __enter__(self) -> PrivatePostgres:
        try:
            if self.as_user:
                shutil.chown(self.root, user=OS_USER)
            self._run("initdb", "--pgdata", str(self.data), "--username", "postgres", "--auth", "trust",
                      "--encoding", "UTF8", "--no-sync")
            settings = {"port": str(self.port), "listen_addresses": "'127.0.0.1'",
                        "unix_socket_directories": f"'{self.root}'", "fsync": "off",
                        "shared_buffers": "'32MB'", "max_connections": "50"}
            with (self.data / "postgresql.conf").open("a") as conf:  # postgres owns it; root may append
                conf.write("".join(f"{k} = {v}\n" for k, v in settings.items()))
            self.start()
            with engine_for(f"postgresql://postgres@127.0.0.1:{self.port}/postgres",
                            isolation_level="AUTOCOMMIT") as admin, admin.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{self.database}"'))
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        try:
            if self.running():
                self.stop("immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
