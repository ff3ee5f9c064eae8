"""The dispatch commands of ``tellusonce``: dispatch, dead-letters, notices send, departments ping|key|enable,
receiver.

``register(main)`` adds them to the ``tellusonce`` group (``tellusonce/cli.py``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_babel import ngettext

from tellusonce.clock import system_now, utcnow
from tellusonce.db import make_engine, transaction
from tellusonce.settings import Settings

log = logging.getLogger(__name__)


def _settings() -> Settings:
    return current_app.config["SETTINGS"]


def _engine():
    return make_engine(_settings().database_url)


# -- dispatch ---------------------------------------------------------------------------


@click.command("dispatch")
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit.")
@click.option("--concurrency", type=click.IntRange(1, 1000), help="Requests in flight at once (default 50).")
@click.option("--department-concurrency", type=click.IntRange(1, 1000),
              help="Requests in flight to one department (default 10).")
@click.option("--lease", type=click.FloatRange(1, 3600), help="Seconds a claim lasts (default 60).")
@click.option("--timeout", type=click.FloatRange(0.1, 60), help="Total seconds per request (default 15).")
@click.option("--database-side", type=click.Choice(["process", "thread"]),
              help="Where the claims and records run: a process of their own (the default with more than "
                   "one core) or a thread beside the HTTP requests (the default with one core).")
@with_appcontext
def dispatch(once: bool, concurrency: int | None, department_concurrency: int | None, lease: float | None,
             timeout: float | None, database_side: str | None) -> None:
    """Deliver queued notifications to departments until stopped (SIGTERM finishes in-flight work)."""
    from tellusonce_services.dispatch.webhook import WebhookSender
    from tellusonce_services.dispatch.worker import Worker, WorkerConfig, tune_process

    # A stop asked for while the worker is still starting is honoured as soon as it can be.
    early_stop: list[int] = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda received, _frame: early_stop.append(received))
    tune_process()
    settings = _settings()
    config = WorkerConfig.from_settings(
        settings, concurrency=concurrency, department_concurrency=department_concurrency,
        lease=timedelta(seconds=lease) if lease else None,
        lease_margin=timedelta(seconds=min(20.0, lease / 3)) if lease else None,
        database_process=None if database_side is None else database_side == "process",
    )
    engine = make_engine(settings.database_url)

    async def main() -> None:
        sender = WebhookSender().init(settings, total_timeout=timeout)
        worker = Worker(engine, settings, sender=sender, config=config)
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, worker.request_stop)
        if early_stop:
            worker.request_stop()
        side = "process" if config.database_process else "thread"
        try:
            stats = await worker.run(once=once, ready=lambda: log.info(
                "dispatch worker %s started, its database side a %s", worker.name, side,
                extra={"worker": worker.name}))
        finally:
            await sender.close()
        log.info("dispatch worker %s stopped: %d delivered, %d failed attempts, %d dead, %d cancelled",
                 worker.name, stats.delivered, stats.failed, stats.dead, stats.cancelled,
                 extra={"worker": worker.name})
        if once:
            click.echo(f"{stats.delivered} delivered, {stats.failed} failed attempts, {stats.dead} dead, "
                       f"{stats.cancelled} cancelled")

    try:
        asyncio.run(main())
    finally:
        engine.dispose()


# -- dead letters -----------------------------------------------------------------------


def _since(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as e:
        raise click.BadParameter("use a date like 2026-11-22 or 2026-11-22T14:00", param_hint="--since") from e
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@click.group("dead-letters")
def dead_letters() -> None:
    """Notifications that could not be delivered: list and replay them."""


def _notification_id(_ctx: click.Context, _param: click.Parameter, value: str | None) -> uuid.UUID | None:
    if value is None:
        return None
    try:
        return uuid.UUID(value)
    except ValueError as e:
        raise click.BadParameter(f"{value!r} is not a notification id: use the first column of "
                                 "`tellusonce dead-letters list`") from e


def _dead_letter_lines(session, rows) -> list[str]:
    """One line a dead letter: its id, report reference, department, change type, when it died,
    attempts and the last error (an error message, never personal data)."""
    from tellusonce.data.dispatch import report_references

    references = report_references(session, (n.report_id for n in rows))
    lines = []
    for n in rows:
        died = n.dead_at.strftime("%Y-%m-%d %H:%M") if n.dead_at else "?"
        attempts = ngettext("%(num)d attempt", "%(num)d attempts", n.attempt_count)
        error = " ".join((n.last_error or "").split())[:100]
        if n.payload and all(value is None for value in n.payload.values()):
            error = f"(details removed by the retention schedule: cannot be replayed) {error}"
        lines.append(f"{n.id}  {references.get(n.report_id, '?'):14} {n.department_id:28} {n.change_type:8} "
                     f"died {died}  {attempts:11} {error}".rstrip())
    return lines


@dead_letters.command("list")
@click.option("--department", "department_id", help="Only this department.")
@click.option("--since", help="Only those that died on or after this date (UTC).")
@with_appcontext
def dead_letters_list(department_id: str | None, since: str | None) -> None:
    """Dead notifications, oldest first: id, report reference, department, attempts and the last error
    (no personal data is shown)."""
    from tellusonce.data.outbox import dead_letters as find

    engine = _engine()
    try:
        with transaction(engine, writer=False) as session:
            rows = find(session, department_id=department_id, since=_since(since))
            for line in _dead_letter_lines(session, rows):
                click.echo(line)
    finally:
        engine.dispose()
    click.echo(ngettext("%(num)d dead letter", "%(num)d dead letters", len(rows)))


@dead_letters.command("replay")
@click.option("--id", "notification_id", callback=_notification_id, metavar="ID",
              help="Only this notification (the id `dead-letters list` shows first).")
@click.option("--department", "department_id", help="Only this department.")
@click.option("--since", help="Only those that died on or after this date (UTC).")
@click.option("--dry-run", is_flag=True, help="Say what would be queued again, and change nothing.")
@with_appcontext
def dead_letters_replay(notification_id: uuid.UUID | None, department_id: str | None, since: str | None,
                        dry_run: bool) -> None:
    """Queue dead notifications again, due now, with a fresh retry schedule."""
    from tellusonce.data.outbox import dead_letters as find
    from tellusonce.data.outbox import replay_dead

    chosen: dict[str, Any] = {"department_id": department_id, "since": _since(since), "notification_id": notification_id}
    engine = _engine()
    try:
        with transaction(engine, writer=not dry_run) as session:
            if dry_run:
                rows = find(session, limit=None, replayable=True, **chosen)
                for line in _dead_letter_lines(session, rows):
                    click.echo(line)
                count = len(rows)
            else:
                count = replay_dead(session, now=utcnow(), **chosen)
    finally:
        engine.dispose()
    if notification_id and not count:
        raise click.ClickException(f"No dead letter has the id {notification_id}"
                                   f"{' (with the --department and --since given)' if department_id or since else ''}"
                                   ". See `tellusonce dead-letters list`.")
    if dry_run:
        click.echo(ngettext("%(num)d dead letter would be queued again (dry run: nothing changed)",
                            "%(num)d dead letters would be queued again (dry run: nothing changed)", count))
    else:
        click.echo(ngettext("%(num)d dead letter queued again", "%(num)d dead letters queued again", count))


# -- departments ------------------------------------------------------------------------


def _department(session, department_id: str):
    from tellusonce.data.departments import get_department

    department = get_department(session, department_id)
    if department is None:
        raise click.ClickException(f"no department {department_id!r} (see `tellusonce departments list`)")
    return department


@click.command("ping")
@click.argument("department_id")
@with_appcontext
def departments_ping(department_id: str) -> None:
    """Send a signed test event to a webhook department and show its answer."""
    from tellusonce.domain.events import build_ping
    from tellusonce_services.dispatch.signing import MissingSecret, department_secrets, signature_headers
    from tellusonce_services.dispatch.webhook import WebhookSender

    settings = _settings()
    engine = _engine()
    try:
        with transaction(engine, writer=False) as session:
            d = _department(session, department_id)
            channel, url, secret_env, allow_private = d.channel, d.webhook_url, d.secret_env, d.allow_private_network
    finally:
        engine.dispose()
    if channel != "webhook" or not url:
        raise click.ClickException(f"{department_id} receives by {channel}; only webhook departments can be pinged")
    try:
        secrets = department_secrets(settings, department_id, secret_env)
    except MissingSecret as e:
        raise click.ClickException(str(e)) from e
    event_id = str(uuid.uuid4())
    body = build_ping(event_id=event_id, department_id=department_id, source=settings.base_url, at=utcnow())
    headers = signature_headers(body, msg_id=event_id, at=system_now(), secrets=secrets)

    async def send():
        async with WebhookSender().init(settings) as sender:
            return await sender.deliver(url=url, body=body, headers=headers, allow_private_network=allow_private)

    result = asyncio.run(send())
    status = f"HTTP {result.status_code}" if result.status_code else "no answer"
    click.echo(f"{department_id}: {result.outcome} ({status}, {result.latency_ms} ms) {result.error or ''}".rstrip())
    if not result.delivered:
        sys.exit(1)


@click.command("key")
@click.argument("department_id")
@click.option("--label", help="What the key is for, e.g. 'case system, 2026'.")
@click.option("--list", "list_", is_flag=True, help="List the department's keys instead of creating one.")
@click.option("--revoke", metavar="PREFIX", help="Revoke the key with this prefix.")
@with_appcontext
def departments_key(department_id: str, label: str | None, list_: bool, revoke: str | None) -> None:
    """Create an API key for a department (shown once), or --list or --revoke its keys."""
    from tellusonce.data.apikeys import create_api_key, list_api_keys, revoke_api_key

    engine = _engine()
    try:
        with transaction(engine) as session:
            _department(session, department_id)
            if list_:
                for key in list_api_keys(session, department_id):
                    state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
                    used = f"last used {key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "never used"
                    click.echo(f"{key.prefix}  {state:18} created {key.created_at:%Y-%m-%d}  {used}  {key.label or ''}")
                return
            if revoke:
                if not revoke_api_key(session, department_id=department_id, prefix=revoke, now=utcnow()):
                    raise click.ClickException(f"{department_id} has no active key with prefix {revoke!r}")
                click.echo(f"revoked {revoke}")
                return
            new = create_api_key(session, department_id=department_id, now=utcnow(), label=label)
    finally:
        engine.dispose()
    click.echo(new.plaintext)
    click.echo(f"This is the only time the key is shown. Prefix: {new.key.prefix}. "
               f"Use it as 'Authorization: Bearer <key>'.", err=True)


@click.command("enable")
@click.argument("department_id")
@with_appcontext
def departments_enable(department_id: str) -> None:
    """Deliver to a department again after its endpoint answered 410 Gone (and close its circuit)."""
    from tellusonce.data.dispatch import enable_endpoint

    engine = _engine()
    try:
        with transaction(engine) as session:
            _department(session, department_id)
            enable_endpoint(session, department_id, now=utcnow())
    finally:
        engine.dispose()
    click.echo(f"{department_id} enabled. Replay what died meanwhile: "
               f"tellusonce dead-letters replay --department {department_id}")


# -- receiver ---------------------------------------------------------------------------


@click.command("receiver")
@with_appcontext
def receiver() -> None:
    """Run the reference department receiver on TELLUSONCE_RECEIVER_LISTEN."""
    from tellusonce_services.example_receiver.setup import keys_path, mint_demo_keys

    settings = _settings()
    if not settings.is_production:
        engine = _engine()
        try:
            minted = mint_demo_keys(engine, settings)
        finally:
            engine.dispose()
        click.echo(f"receiver: API keys for {', '.join(sorted(minted))} written to {keys_path(settings)}", err=True)
    os.execvp(sys.executable, [
        sys.executable, "-m", "gunicorn", "--bind", settings.receiver_listen, "--workers", "1", "--threads", "8",
        "--access-logfile", "-", "--no-control-socket",  # as config/gunicorn.conf.py says why
        "tellusonce_services.example_receiver.app:create_receiver_app()",
    ])


# -- notices ----------------------------------------------------------------------------


@click.group("notices")
def notices() -> None:
    """Emails to citizens about what became of their reports."""


@notices.command("send")
@with_appcontext
def notices_send() -> None:
    """Queue the emails due now: every organisation has a report, or one could not be told (every
    `tellusonce dispatch` also does this, every 30 seconds)."""
    from tellusonce_services.dispatch.notices import send_due_notices

    engine = _engine()
    queued = 0
    try:
        while True:  # a batch a transaction, until none is due
            with transaction(engine) as session:
                batch = send_due_notices(session, settings=_settings(), now=utcnow())
            queued += batch
            if not batch:
                break
    finally:
        engine.dispose()
    click.echo(ngettext("%(num)d email about a report queued", "%(num)d emails about reports queued", queued))


def register(main: click.Group) -> None:
    """Add the dispatch commands to ``tellusonce`` (its ``departments`` group must exist)."""
    main.add_command(dispatch)
    main.add_command(dead_letters)
    main.add_command(notices)
    main.add_command(receiver)
    departments = main.commands["departments"]
    assert isinstance(departments, click.Group)
    for command in (departments_ping, departments_key, departments_enable):
        departments.add_command(command)

