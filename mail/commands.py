"""The mail commands of ``tellusonce``: ``smtpd`` and ``mail list|show|reprocess|send``.

``register(main)`` adds them to the ``tellusonce`` group (``tellusonce/cli.py``).
"""

from __future__ import annotations

import signal
import sys

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import Engine

from tellusonce.db import make_engine, transaction
from tellusonce.models import InboundStatus
from tellusonce.settings import Settings


def _settings() -> Settings:
    return current_app.config["SETTINGS"]


def _engine() -> Engine:
    return make_engine(_settings().database_url)


@click.command("smtpd")
@click.option("--no-processing", is_flag=True, help="Only accept and store mail; process it elsewhere.")
@with_appcontext
def smtpd(no_processing: bool) -> None:
    """Run the inbound mail listener on TELLUSONCE_SMTP_LISTEN, and process what it accepts."""
    from tellusonce_mail.processing import MessageWorker
    from tellusonce_mail.server import serve

    settings = _settings()
    engine = _engine()
    worker = None if no_processing else MessageWorker(engine, settings).start()

    def ready(host: str, port: int) -> None:
        click.echo(f"mail listener on smtp://{host}:{port} for {settings.service_address}")
        sys.stdout.flush()

    try:
        serve(settings, on_commit=worker.wake if worker else None, ready=ready)
    finally:
        if worker is not None:
            worker.stop()
        engine.dispose()


@click.group("mail")
def mail_group() -> None:
    """Inbound messages and outbound email."""


@mail_group.command("list")
@click.option("--status", type=click.Choice([s.value for s in InboundStatus]), help="Only messages in this state.")
@click.option("--limit", default=50, show_default=True)
@with_appcontext
def mail_list(status: str | None, limit: int) -> None:
    """Inbound messages, newest first: id, when, state, size and why."""
    from tellusonce.data.inbound import count_by_status, list_inbound

    engine = _engine()
    try:
        with transaction(engine, writer=False) as session:
            counts = count_by_status(session)
            for m in list_inbound(session, status=status, limit=limit):
                when = m.received_at.strftime("%Y-%m-%d %H:%M:%S")
                click.echo(f"{m.id}  {when}  {m.status:11}  {m.size:>9}  {m.status_reason or ''}")
    finally:
        engine.dispose()
    click.echo(", ".join(f"{counts.get(s.value, 0)} {s.value}" for s in InboundStatus))


@mail_group.command("show")
@click.argument("message_id")
@click.option("--raw", is_flag=True, help="Print the message exactly as received.")
@with_appcontext
def mail_show(message_id: str, raw: bool) -> None:
    """One inbound message: envelope, state, authentication results (and the raw message)."""
    import json

    from tellusonce.data.inbound import get_inbound

    engine = _engine()
    try:
        with transaction(engine, writer=False) as session:
            m = get_inbound(session, message_id)
            if m is None:
                raise click.ClickException(f"no inbound message {message_id}")
            click.echo(f"id:             {m.id}\nreceived:       {m.received_at.isoformat()}\npeer:           {m.peer}")
            click.echo(f"helo:           {m.helo or ''}\nmail from:      <{m.mail_from}>\nrcpt to:        {', '.join(m.rcpt_tos)}")
            click.echo(f"size:           {m.size}\nstatus:         {m.status} ({m.attempts} attempts)")
            click.echo(f"reason:         {m.status_reason or ''}\nreport:         {m.report_id or ''}")
            click.echo(f"authentication: {json.dumps(m.authentication or {}, sort_keys=True)}")
            if raw:
                click.echo("")
                click.echo(m.raw.decode("utf-8", errors="replace"))
    finally:
        engine.dispose()


@mail_group.command("reprocess")
@click.argument("message_id")
@with_appcontext
def mail_reprocess(message_id: str) -> None:
    """Process one stored message again (after a fix), and say what happened."""
    from tellusonce_mail.processing import reprocess

    engine = _engine()
    try:
        outcome = reprocess(engine, _settings(), message_id)
    finally:
        engine.dispose()
    if outcome is None:
        raise click.ClickException(f"no inbound message {message_id}")
    click.echo(f"{message_id}: {outcome.status}: {outcome.reason}")
    if outcome.status == InboundStatus.QUARANTINED:
        sys.exit(1)


@mail_group.command("send")
@click.option("--once", is_flag=True, help="Send what is due now, then exit.")
@with_appcontext
def mail_send(once: bool) -> None:
    """Deliver queued email through TELLUSONCE_OUTBOUND_MAIL (or capture it in demo and test mode)."""
    from tellusonce.mailout.send import OutboundMailer, SenderLoop

    settings = _settings()
    engine = _engine()
    try:
        mailer = OutboundMailer(engine, settings)  # its relay read and checked with the settings at start-up
        if once:
            total = {"sent": 0, "captured": 0, "retrying": 0, "failed": 0}
            while (summary := mailer.send_due()).total:
                for key in total:
                    total[key] += getattr(summary, key)
            click.echo(", ".join(f"{value} {key}" for key, value in total.items()))
            return
        loop = SenderLoop(mailer)
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: loop.stopping.set())
        where = "captured for /dev/mail" if mailer.relay is None else f"via {mailer.relay.url}"
        if mailer.notify is not None:
            where = f"via GOV.UK Notify ({mailer.notify.base_url})"
        click.echo(f"mail sender running; email is {where}")
        loop.run()
    finally:
        engine.dispose()


def register(main: click.Group) -> None:
    main.add_command(smtpd)
    main.add_command(mail_group)
