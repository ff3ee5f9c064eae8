"""The ``tellusonce`` command: the composition root, and the only core module that
imports ``services`` and ``mail``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import IO, Any

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, NoAppException, with_appcontext

from tellusonce import create_app
from tellusonce.clock import utcnow
from tellusonce.db import engine_for, is_sqlite, transaction
from tellusonce.demo_ready import probes
from tellusonce.resources import CONFIG, FilesMissing
from tellusonce.settings import Settings, SettingsError
from tellusonce_mail.commands import register as register_mail_commands
from tellusonce_services.commands import register as register_dispatch_commands

GUNICORN_CONFIG = CONFIG / "gunicorn.conf.py"

# What `tellusonce demo` starts, in order: (name, sub-command, setting with its address).
DEMO_PROCESSES: list[tuple[str, list[str], str | None]] = [
    ("web", ["serve"], "web_listen"),
    ("dispatcher", ["dispatch"], None),
    ("mail listener", ["smtpd"], "smtp_listen"),
    ("mail sender", ["mail", "send"], None),
    ("receiver", ["receiver"], "receiver_listen"),
]


class SettingsProblem(NoAppException):
    """Settings the service cannot start with, said in one line that names what to set.

    A ``NoAppException``, Flask's own "the app cannot be loaded", so that ``tellusonce --help``
    shows that line above the commands instead of a traceback; shown without the usage lines
    a usage error would add, as the problem is the environment, not the command typed.
    """

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"Error: {self.format_message()}", file=file, err=file is None)


def _create_app() -> Flask:
    try:
        app = create_app()
    except (SettingsError, FilesMissing) as e:
        raise SettingsProblem(str(e)) from e
    problem = _production_registry_problem(app.config["SETTINGS"])
    if problem:
        raise SettingsProblem(problem)
    return app


def _production_registry_problem(s: Settings) -> str | None:
    """In production, what is wrong with the registry every command would use, in one line."""
    from tellusonce_services.registry import RegistryError, load_registry

    if not s.is_production:
        return None
    try:
        registry = load_registry(s.departments, receiver_url=f"http://{s.receiver_listen}")
    except RegistryError as e:
        return f"TELLUSONCE_DEPARTMENTS: {e}"
    plain = registry.plain_http_webhooks()
    if not plain:
        return None
    return (f"TELLUSONCE_DEPARTMENTS is {registry.path}, whose webhook_url for {', '.join(plain)} is not https:// "
            f"(the demo registry sends to a receiver on this machine): production sends personal data over https "
            f"only, so set TELLUSONCE_DEPARTMENTS to your own registry, made from "
            f"{CONFIG / 'departments.production.example.toml'}.")


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=False, add_version_option=False)
def main() -> None:
    """TellUsOnce: report a change once; every service you choose is told."""


def settings() -> Settings:
    return current_app.config["SETTINGS"]


# -- database ---------------------------------------------------------------------------


@main.group()
def db() -> None:
    """The database schema."""


@db.command("upgrade")
@with_appcontext
def db_upgrade() -> None:
    """Bring the database to the newest schema (safe to run at every start)."""
    from tellusonce.migrate import upgrade

    upgrade(settings().database_url)
    click.echo("Database is up to date.")


# -- departments ------------------------------------------------------------------------


@main.group()
def departments() -> None:
    """The department registry."""


def _load_registry():
    from tellusonce_services.registry import RegistryError, load_registry

    s = settings()
    try:
        return load_registry(s.departments, receiver_url=f"http://{s.receiver_listen}")
    except RegistryError as e:
        raise click.ClickException(str(e)) from e


@departments.command("sync")
@with_appcontext
def departments_sync() -> None:
    """Load config/departments.toml (TELLUSONCE_DEPARTMENTS) into the database."""
    from tellusonce_services.registry import sync_registry

    registry = _load_registry()
    with engine_for(settings().database_url) as engine, transaction(engine) as session:
        changes = sync_registry(session, registry)
    for line in changes or ["no changes"]:
        click.echo(line)
    click.echo(f"{len(registry.departments)} departments in {registry.path}")


@departments.command("list")
@with_appcontext
def departments_list() -> None:
    """Every department, its channel and the change types it receives (with the days' notice it wants
    of a change reported ahead of its date, where it wants more than being told on the date)."""
    from tellusonce.data.departments import list_departments

    with engine_for(settings().database_url) as engine, transaction(engine, writer=False) as session:
        for d in list_departments(session, include_inactive=True):
            state = "" if d.active else "  (inactive)"
            english_only = [label for label, english, welsh in (
                ("name", d.name, d.name_cy), ("purpose", d.purpose, d.purpose_cy),
                ("lawful basis", d.lawful_basis, d.lawful_basis_cy), ("retention", d.retention, d.retention_cy),
            ) if english and not welsh]
            welsh = f"  (no Welsh {' or '.join(english_only)}: shown in English)" if english_only else ""
            receives = ", ".join(f"{c} ({d.notice_for(c)} days' notice)" if d.notice_for(c) else c for c in d.receives)
            missing = [label for label, value in (("lawful basis", d.lawful_basis), ("retention", d.retention))
                       if not value]
            stated = f"  (states no {' or '.join(missing)}: /organisations says so)" if missing else ""
            click.echo(f"{d.id:32} {d.channel:8} {receives}{state}{welsh}{stated}")


# -- audit ------------------------------------------------------------------------------


@main.group()
def audit() -> None:
    """The tamper-evident audit trail."""


@audit.command("verify")
@with_appcontext
def audit_verify() -> None:
    """Check every audit event's hash chain; exit 1 naming the first broken link."""
    from tellusonce.data.audit import verify_chain

    with engine_for(settings().database_url) as engine, transaction(engine, writer=False) as session:
        result = verify_chain(session)
    if not result.ok:
        raise click.ClickException(f"audit chain broken at event {result.broken_at}: {result.problem}")
    click.echo(f"Audit trail intact: {result.checked} events in {result.chains} chains.")


# -- data-rights requests ---------------------------------------------------------------


@main.group()
def requests() -> None:
    """Requests for a data right that arrived by email, for a person to answer."""


@requests.command("list")
@click.option("--all", "include_closed", is_flag=True, help="Closed requests too.")
@with_appcontext
def requests_list(include_closed: bool) -> None:
    """Requests still to answer, the soonest due first (an overdue one says so)."""
    from tellusonce.clock import today
    from tellusonce.data.requests import list_requests

    with engine_for(settings().database_url) as engine, transaction(engine, writer=False) as session:
        rows = list_requests(session, include_closed=include_closed)
        if not rows:
            click.echo("No data-rights requests." if include_closed else "No open data-rights requests.")
        for r in rows:
            late = " OVERDUE" if r.state == "open" and r.due_on < today() else ""
            click.echo(f"{r.id.hex[:12]}  due {r.due_on.isoformat()}{late}  {r.state:6}  {', '.join(r.rights):28}"
                       f"  {r.from_address}  received {r.received_at:%Y-%m-%d %H:%M}")


@requests.command("close")
@click.argument("request_id")
@click.option("--note", default=None, help="What was done (kept with the request, not personal data).")
@with_appcontext
def requests_close(request_id: str, note: str | None) -> None:
    """Mark a request answered."""
    import getpass

    from tellusonce.data.audit import record_event
    from tellusonce.data.requests import close_request, find_request

    with engine_for(settings().database_url) as engine, transaction(engine) as session:
        request = find_request(session, request_id)
        if request is None:
            raise click.ClickException(f"no single data-rights request has the id {request_id!r}: see 'requests list --all'")
        if request.state == "closed":
            raise click.ClickException(f"request {request.id.hex[:12]} was closed already, on {request.closed_at:%Y-%m-%d}")
        by = getpass.getuser()
        close_request(session, request, by=by, note=note, now=utcnow())
        record_event(session, actor=f"operator:{by}", action="data_rights.closed", subject_type="data_rights_request",
                     subject_id=request.id)
    click.echo(f"Closed data-rights request {request.id.hex[:12]}.")


# -- retention --------------------------------------------------------------------------


@main.group()
def retention() -> None:
    """The retention schedule (config/retention.toml): apply it, and see what is held."""


@retention.command("run")
@click.option("--dry-run", is_flag=True, help="Say what would be removed, and change nothing.")
@click.option("--batch", type=click.IntRange(1, 10_000), default=500, show_default=True,
              help="Rows per batch; each batch is a transaction of its own.")
@with_appcontext
def retention_run(dry_run: bool, batch: int) -> None:
    """Delete or blank what has been kept its period (the dispatcher also does, every ten minutes)."""
    from tellusonce.application.retention import run_retention

    with engine_for(settings().database_url) as engine:
        # On SQLite each batch is found outside the one write lock (``run_retention``'s ``read``).
        read = (lambda: transaction(engine, writer=False)) if is_sqlite(engine) else None
        result = run_retention(lambda: transaction(engine, writer=not dry_run), current_app.config["RETENTION"],
                               now=utcnow, dry_run=dry_run, limit=batch, read=read)
    verb = "would be" if dry_run else "were"
    for kind in result.kinds:
        span = f" (from {kind.oldest:%Y-%m-%d %H:%M} to {kind.newest:%Y-%m-%d %H:%M} UTC)" if kind.oldest and kind.newest else ""
        done = "blanked" if kind.action == "blank" else "deleted"
        click.echo(f"{kind.kind.value:22} {kind.removed:>9} {verb} {done}{span}")
    if not dry_run:
        click.echo(f"{result.removed} removed in all; the longest batch took {result.longest_batch_seconds:.3f} s.")


@retention.command("report")
@with_appcontext
def retention_report() -> None:
    """What is held, by kind and age, and how much of it is past its period."""
    from tellusonce.application.retention import retention_report as report

    with engine_for(settings().database_url) as engine, transaction(engine, writer=False) as session:
        rows = report(session, current_app.config["RETENTION"], now=utcnow())
    click.echo(f"{'kind':22} {'kept for':>9} {'then':>6} " + " ".join(f"{label:>9}" for label in rows.ages)
               + f" {'past it':>9}")
    for row in rows.kinds:
        click.echo(f"{row.kind.value:22} {str(row.keep):>9} {row.then.value:>6} "
                   + " ".join(f"{n:>9}" for n in row.by_age) + f" {row.due:>9}")


# -- running ----------------------------------------------------------------------------


@main.command("serve")
@click.option("--workers", type=click.IntRange(1, 64),
              help="gunicorn worker processes (default: TELLUSONCE_WEB_WORKERS, else 2; config/gunicorn.conf.py)")
@with_appcontext
def serve(workers: int | None) -> None:
    """Run the web app under gunicorn on TELLUSONCE_WEB_LISTEN."""
    _load_registry()  # a registry with a mistake stops start-up, naming the line
    s = settings()
    if s.web_processes == 1:  # the operator said one web process: gunicorn runs one worker, or refuses
        configured = s.extra.get("web_workers") or "1"
        if not configured.isdigit():
            raise click.ClickException(f"TELLUSONCE_WEB_WORKERS must be a whole number, not {configured!r}.")
        workers = workers or int(configured)
        if workers != 1:
            raise click.ClickException(
                f"TELLUSONCE_WEB_PROCESSES=1 says one web process runs, and {workers} gunicorn workers would each "
                "count rate limits apart: run one worker (--workers 1, TELLUSONCE_WEB_WORKERS=1), or set "
                "TELLUSONCE_RATELIMIT_STORAGE_URL to a shared redis:// store and unset TELLUSONCE_WEB_PROCESSES.")
    count = ["--workers", str(workers)] if workers else []  # else the config file's, from the environment
    os.execvp(
        sys.executable,
        [sys.executable, "-m", "gunicorn", "--config", str(GUNICORN_CONFIG), "--bind", settings().web_listen,
         *count, "tellusonce:create_app()"],
    )


@main.command("demo")
@with_appcontext
def demo() -> None:
    """Set up a demo database and run every part of the service until Ctrl+C."""
    s = settings()
    if s.is_production:
        raise click.ClickException("`tellusonce demo` runs only with TELLUSONCE_MODE=demo (make run sets it).")
    env = dict(os.environ, TELLUSONCE_MODE=s.mode, TELLUSONCE_SECRET_KEY=s.secret_key)
    ctx = click.get_current_context()
    ctx.invoke(db_upgrade)
    ctx.invoke(departments_sync)
    since = utcnow()
    processes: list[DemoProcess] = []
    for name, args, listen in DEMO_PROCESSES:
        proc = subprocess.Popen([sys.executable, "-m", "tellusonce.cli", *args], env=env)
        processes.append(DemoProcess(name, args, proc, time.monotonic()))
        address = getattr(s, listen) if listen else None
        where = f" on {'smtp' if 'smtp' in (listen or '') else 'http'}://{address}" if address else ""
        click.echo(f"started {name}{where} (pid {proc.pid})")
    click.echo("waiting for every part to answer…")
    with engine_for(s.database_url) as engine:
        code = _supervise(processes, ready=probes(s, engine, since), announce=lambda: click.echo(
            f"\nTell us once is running: open http://{s.web_listen}/ (email sent to you appears at "
            f"http://{s.web_listen}/dev/mail/). Ctrl+C stops everything."
        ))
    if code:
        ctx.exit(code)


@dataclass
class DemoProcess:
    name: str
    args: list[str]
    proc: subprocess.Popen[bytes]
    started: float
    reported: bool = False


# A part that exits this soon after starting, or before every part answers, could not start (a
# port in use, say): the demo stops. One that stops later (an operator stopping the receiver to
# watch retries) is reported, and the rest keep running. Every part must answer within
# READY_TIMEOUT_SECONDS (gunicorn and the first migrations are slow on a busy machine).
STARTUP_GRACE_SECONDS = 5.0
READY_TIMEOUT_SECONDS = 180.0


def _supervise(processes: list[DemoProcess], *, ready: Mapping[str, Callable[[], bool]],
               announce: Callable[[], None]) -> int:
    """Run until Ctrl+C or SIGTERM (then 0), or until the demo cannot start (then 1). ``announce``
    is called once every part answers its probe in ``ready`` (a part without one: while it runs)."""
    stopping = False
    failed = False
    waiting = {part.name for part in processes}
    started = time.monotonic()

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    previous = {signum: signal.signal(signum, stop) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stopping:
            if _report_exits(processes, starting=bool(waiting)):
                stopping = failed = True
            if all(part.reported for part in processes):
                stopping = True
            if waiting and not stopping:
                waiting = _still_waiting(processes, waiting, ready)
                if not waiting:
                    announce()
                elif time.monotonic() - started > READY_TIMEOUT_SECONDS:
                    click.echo(f"{', '.join(sorted(waiting))} did not answer within {READY_TIMEOUT_SECONDS:.0f} s; "
                               "stopping the demo.", err=True)
                    stopping = failed = True
            if not stopping:
                time.sleep(0.5 if not waiting else 0.2)
    finally:
        _stop_parts(processes)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 1 if failed else 0


def _report_exits(processes: list[DemoProcess], *, starting: bool) -> bool:
    """Say which parts have exited since the last look; True when one of them could not start
    (it exited while parts were still starting, or on its own soon after it started)."""
    could_not_start = False
    for part in processes:
        if part.reported or part.proc.poll() is None:
            continue
        part.reported = True
        killed = part.proc.returncode < 0  # stopped by a signal, not failing on its own
        if starting or (not killed and time.monotonic() - part.started < STARTUP_GRACE_SECONDS):
            click.echo(f"{part.name} could not start (exit code {part.proc.returncode}); stopping the demo.",
                       err=True)
            could_not_start = True
        else:
            click.echo(f"{part.name} stopped (exit code {part.proc.returncode}); the rest keep running. "
                       f"Start it again with: TELLUSONCE_MODE=demo .venv/bin/tellusonce {' '.join(part.args)}",
                       err=True)
    return could_not_start


def _still_waiting(processes: list[DemoProcess], waiting: set[str],
                   ready: Mapping[str, Callable[[], bool]]) -> set[str]:
    """The parts of ``waiting`` that do not answer yet (a part without a probe answers while it runs)."""
    return waiting - {part.name for part in processes if part.name in waiting
                      and (ready[part.name]() if part.name in ready else part.proc.poll() is None)}


def _stop_parts(processes: list[DemoProcess]) -> None:
    """Terminate every part still running, and kill one that does not stop within 10 s."""
    for part in processes:
        if part.proc.poll() is None:
            part.proc.terminate()
    for part in processes:
        try:
            part.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            part.proc.kill()


register_dispatch_commands(main)
register_mail_commands(main)

if __name__ == "__main__":
    main()
