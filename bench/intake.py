"""Intake benchmark: final-step web submissions per second against the floor and a bare insert.

In one run, for SQLite and (with TELLUSONCE_BENCH_DATABASE_URL=postgresql://…, whose
schema this benchmark drops and rebuilds) PostgreSQL, under the same gunicorn
settings and 32 concurrent clients:

1. project: the real app. Each client signs in through the sign-in form, then
   walks report journeys (choose the change, new address, date, three
   organisations) up to "check your answers"; what is timed is the final POST
   alone: CSRF, session, the journey, validation, the report, its three
   notifications, consent events and the confirmation email in one transaction;
2. floor: a bare endpoint doing only CSRF, the session and the rows a submission
   writes, in one transaction (``intake_floor.floor_app``, writing again the rows of
   one of the project's own submissions);
3. ceiling: a bare Flask endpoint (``support.web.ceiling_app``) that inserts one row into the
   same database per POST;
   before any is timed, each client sends one request that is not (the workers'
   first requests compile templates and statements). The three apps then run side
   by side and take turns (``ROUNDS``), a third of the work each turn, so that a
   shared machine's good and bad moments fall on all alike;
4. the follow-ups, which go through the same intake pipeline as a submission (one
   transaction) and take their turns beside it (``FOLLOW_UPS``): a cancellation, the POST
   of the confirmation on the warning page ("Cancel this report") of a move already sent
   to its three organisations, so that each is sent a cancellation event; and a correction,
   the POST of "Send correction" on such a move whose first line of address was answered
   anew beforehand, so that each is sent a correction event; the target for each is
   within 1.5 × a submission's cost (cost: seconds per request at 32 clients);
5. "Your changes" for a citizen with 1,000 reports against one with a single
   report (the page shows 25 at a time).

Prints one JSON line at the end: {"bench": "intake", "floor_ratio": project ÷ floor,
"ratio": project ÷ ceiling, "project_per_s": …, "floor_per_s": …, "ceiling_per_s": …,
"p99_ms": …, "cancel_ratio": a cancellation's cost ÷ a submission's, "correct_ratio": a
correction's, "runs": {database: …}}
where the headline figures are those of the database with the lower floor ratio, and each
follow-up's ratio the higher of the databases' (each database's turn ratios show how steady
it was). The targets: floor_ratio ≥ 0.55 on each database, p99 under 250 ms, cancel_ratio and
correct_ratio ≤ 1.5.
TELLUSONCE_BENCH_INTAKE_COUNT sets the submissions per database (default 960). Each
gunicorn's log is a file in the run's temporary directory. Takes a few minutes a
database; not a test (how to run it and the figures: bench/README.md).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import aiohttp  # noqa: E402
from sqlalchemy import func, select, update  # noqa: E402
from support.web import (  # noqa: E402
    CLIENTS,
    COOKIE,
    ROUNDS,
    WORKERS,
    Gunicorn,
    Journey,
    Work,
    app_env,
    csrf_token,
    databases,
    fresh_database,
    log,
    prepare,
    sign_in,
    signed_in,
    start_ceiling,
    take_turns,
    warm_up,
)

from tellusonce.application.consent import grant_consent  # noqa: E402
from tellusonce.application.intake import ChangeRequest, submit_change  # noqa: E402
from tellusonce.clock import utcnow  # noqa: E402
from tellusonce.db import make_engine, transaction  # noqa: E402
from tellusonce.models import ChangeReport, Citizen, Department, Notification, NotificationState  # noqa: E402

COUNT = int(os.environ.get("TELLUSONCE_BENCH_INTAKE_COUNT", "960"))
RECIPIENTS = ("dvla", "hmrc", "leeds-council-tax")


async def ready_to_send(http: aiohttp.ClientSession, base: str, cookie: str, n: int) -> tuple[str, str]:
    """Walk one move up to "check your answers"; the cookie and CSRF token for the final POST."""
    journey = Journey(http, base, cookie)
    token = csrf_token(await journey.request("GET", "/report/change"))
    today = utcnow().date()
    steps: list[tuple[str, dict[str, Any]]] = [
        ("/report/change", {"change_type": "address"}),
        ("/report/questions/new-address", {"address_line_1": f"{n} Canal Wharf", "town": "Leeds", "postcode": "LS11 5PS"}),
        ("/report/questions/move-date", [("move_date", str(today.day)), ("move_date", str(today.month)),
                                         ("move_date", str(today.year))]),
        ("/report/organisations", [("recipients", d) for d in RECIPIENTS] + [(f"consent-{d}", "once") for d in RECIPIENTS]),
    ]
    for path, data in steps:
        fields = list(data.items()) if isinstance(data, dict) else data
        await journey.request("POST", path, [("csrf_token", token), *fields], expect=302)
    return journey.cookie, token


async def prepare_journeys(base: str, emails: Sequence[str], count: int) -> list[list[tuple[str, str]]]:
    per_client = -(-count // CLIENTS)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
        cookies = await asyncio.gather(*(sign_in(http, base, e) for e in emails[:CLIENTS]))

        async def client(i: int) -> list[tuple[str, str]]:
            return [await ready_to_send(http, base, cookies[i], i * per_client + j) for j in range(per_client)]

        return list(await asyncio.gather(*(client(i) for i in range(CLIENTS))))


def many_reports(url: str, email: str, count: int) -> None:
    """``count`` moves, each told to three organisations under standing consent, through the intake."""
    engine = make_engine(url)
    with transaction(engine) as session:
        citizen = session.scalars(select(Citizen).where(Citizen.email == email)).one()
        for department_id in RECIPIENTS:
            grant_consent(session, citizen_id=citizen.id, department=session.get_one(Department, department_id),
                          change_types=["address"], now=utcnow())
        for i in range(count):
            submit_change(session, citizen, ChangeRequest(
                change_type="address", recipients=list(RECIPIENTS),
                answers={"address_line_1": f"{i} Long Lane", "town": "Leeds", "postcode": "LS11 5PS",
                         "move_date": utcnow().date().isoformat()},
                submission_key=f"many-{i}"))
    engine.dispose()


async def time_page(base: str, cookie: str, path: str, times: int = 30) -> float:
    """Median milliseconds to render ``path`` for a signed-in citizen."""
    durations = []
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
        journey = Journey(http, base, cookie)
        for _ in range(times):
            started = time.perf_counter()
            await journey.request("GET", path)
            durations.append(time.perf_counter() - started)
    return statistics.median(durations) * 1000


# -- follow-ups: what a citizen does after sending, timed beside a submission -----------


@dataclass(frozen=True)
class FollowUp:
    """One kind of follow-up's work, ready to time: each client's requests (the first is the
    warm-up), the status each must get, and the rows each adds to the tables the run counts."""

    work: Work
    expect: int
    writes: Mapping[str, int]
    check: Callable[[], None] = field(default=lambda: None)  # after the turns: it did what it should


def sent_moves(url: str, emails: Sequence[str], per_client: int, street: str) -> list[list[str]]:
    """For each of ``emails``, ``per_client`` moves through the intake (three organisations, one-off
    consent, as the web journey sends them), each already delivered to all three as the dispatcher
    would have; their references."""
    engine = make_engine(url)
    references: list[list[str]] = []
    with transaction(engine) as session:
        for email in emails:
            citizen = session.scalars(select(Citizen).where(Citizen.email == email)).one()
            reports = [submit_change(session, citizen, ChangeRequest(
                change_type="address", recipients=list(RECIPIENTS), consent=dict.fromkeys(RECIPIENTS, "once"),
                answers={"address_line_1": f"{i} {street}", "town": "Leeds", "postcode": "LS11 5PS",
                         "move_date": utcnow().date().isoformat()},
                channel="web", submission_key=f"{street}-{email}-{i}")).report for i in range(per_client)]
            session.execute(update(Notification).where(Notification.report_id.in_([r.id for r in reports]))
                            .values(state=NotificationState.DELIVERED, delivered_at=utcnow()))
            references.append([r.reference for r in reports])
    engine.dispose()
    return references


def cancellations(url: str, base: str, emails: Sequence[str], count: int) -> FollowUp:
    """``count`` cancellations, each the POST of "Cancel this report" on a move already delivered to
    its three organisations: the report cancelled, three cancellation events queued, an audit event."""
    per_client = -(-count // CLIENTS)
    references = sent_moves(url, emails[:CLIENTS], per_client, "Cancel Street")

    async def tokens() -> list[tuple[str, str]]:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
            async def one(email: str, reference: str) -> tuple[str, str]:
                journey = Journey(http, base, await sign_in(http, base, email))
                token = csrf_token(await journey.request("GET", f"/changes/{reference}/cancel"))  # the warning page
                return journey.cookie, token

            return list(await asyncio.gather(*(one(e, refs[0]) for e, refs in zip(emails, references, strict=False))))

    work = [[(f"/changes/{reference}/cancel", {"Cookie": f"{COOKIE}={cookie}"}, {"csrf_token": token}) for reference in refs]
            for (cookie, token), refs in zip(asyncio.run(tokens()), references, strict=True)]

    def check() -> None:
        engine = make_engine(url)
        with engine.connect() as connection:
            cancelled = connection.execute(select(func.count()).select_from(ChangeReport).where(
                ChangeReport.state == "cancelled")).scalar_one()
        engine.dispose()
        if cancelled != sum(len(refs) for refs in references):
            raise RuntimeError(f"{cancelled} reports cancelled, expected {sum(len(refs) for refs in references)}")

    return FollowUp(work, 302, {"notification": len(RECIPIENTS), "audit_event": 1}, check)


def corrections(url: str, base: str, emails: Sequence[str], count: int) -> FollowUp:
    """``count`` corrections, each the POST of "Send correction" on a move already delivered to its
    three organisations, its new first line of address answered beforehand (not timed): the
    report's answers rewritten, three correction events queued, an audit event."""
    per_client = -(-count // CLIENTS)
    references = sent_moves(url, emails[:CLIENTS], per_client, "Correct Street")

    async def corrected() -> list[list[tuple[str, str]]]:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
            async def client(email: str, refs: Sequence[str]) -> list[tuple[str, str]]:
                cookie = await sign_in(http, base, email)
                ready = []
                for reference in refs:  # one session cookie per report: each holds its own correction
                    journey = Journey(http, base, cookie)
                    page = f"/changes/{reference}/correct/questions/new-address"
                    token = csrf_token(await journey.request("GET", page))
                    await journey.request("POST", page, {
                        "csrf_token": token, "address_line_1": f"Flat 2, {reference}", "address_line_2": "",
                        "town": "Leeds", "postcode": "LS11 5PS"}, expect=302)
                    ready.append((journey.cookie, csrf_token(await journey.request("GET", f"/changes/{reference}/correct"))))
                return ready

            return list(await asyncio.gather(*(client(e, refs) for e, refs in zip(emails, references, strict=False))))

    work = [[(f"/changes/{reference}/correct", {"Cookie": f"{COOKIE}={cookie}"}, {"csrf_token": token})
             for reference, (cookie, token) in zip(refs, ready, strict=True)]
            for refs, ready in zip(references, asyncio.run(corrected()), strict=True)]

    def check() -> None:
        engine = make_engine(url)
        with engine.connect() as connection:
            corrected_reports = connection.execute(select(func.count()).select_from(ChangeReport).where(
                ChangeReport.answers["address_line_1"].as_string().like("Flat 2, %"))).scalar_one()
        engine.dispose()
        if corrected_reports != sum(len(refs) for refs in references):
            raise RuntimeError(f"{corrected_reports} reports corrected, expected {sum(len(refs) for refs in references)}")

    return FollowUp(work, 302, {"notification": len(RECIPIENTS), "audit_event": 1}, check)


# Each follow-up timed beside a submission, by the name its figures take in the JSON line
# ("<name>_ratio", "<name>_per_s", …): (database URL, the app's URL, the clients' emails,
# how many) -> its work.
FOLLOW_UPS: dict[str, Callable[[str, str, Sequence[str], int], FollowUp]] = {
    "cancel": cancellations,
    "correct": corrections,
}


def _a_report(url: str) -> Any:
    """The id of one report the app wrote (one of the warm-up's): the floor writes its rows again."""
    engine = make_engine(url)
    with engine.connect() as connection:
        report_id = connection.execute(select(ChangeReport.id).limit(1)).scalar_one()
    engine.dispose()
    return report_id


def run(label: str, url: str, workdir: Path) -> dict[str, Any]:
    import intake_floor  # it builds on this module

    log(f"[{label}] preparing the database")
    emails = prepare(url)
    env = app_env(label, url, workdir)
    server = Gunicorn("tellusonce:create_app()", env, ROOT, workdir / f"gunicorn-{label}.log")
    ceiling_server: Gunicorn | None = None
    floor_server: Gunicorn | None = None
    try:
        log(f"[{label}] {CLIENTS} clients walk {COUNT + CLIENTS} journeys up to 'check your answers' (not timed)")
        prepared = asyncio.run(prepare_journeys(server.url, emails, COUNT + CLIENTS))
        work: Work = [[("/report/check", {"Cookie": f"{COOKIE}={cookie}"}, {"csrf_token": token}) for cookie, token in items]
                      for items in prepared]
        log(f"[{label}] warming up: {CLIENTS} final submissions, one per client (not timed)")
        work = warm_up(server.url, "POST", work, 303)
        ceiling_server = start_ceiling(label, env, workdir)
        inserts = warm_up(ceiling_server.url, "POST", [[("/insert", {}, {"body": f"row {i}-{j}"}) for j in range(len(items) + 1)]
                                                       for i, items in enumerate(work)], 201)
        floor_server = intake_floor.start_floor(label, url, workdir, env, _a_report(url))
        floor_work = asyncio.run(intake_floor.floor_journeys(floor_server.url, COUNT + CLIENTS))
        follow_ups = {}  # prepared once the floor has taken its rows from one of the warm-up's reports
        for name, make in FOLLOW_UPS.items():
            log(f"[{label}] {name}: {COUNT + CLIENTS} sent moves to follow up, and a warm-up (not timed)")
            made = make(url, server.url, emails, COUNT + CLIENTS)
            follow_ups[name] = FollowUp(warm_up(server.url, "POST", made.work, made.expect), made.expect, made.writes,
                                        made.check)
        before = intake_floor.counts(url)
        floor_work = warm_up(floor_server.url, "POST", floor_work, 303)
        # The apps take turns, a share of the work each, so that all meet the same machine: on a
        # shared machine one app timed after another can meet a different one. The follow-ups
        # take theirs straight after the submissions', on the same app.
        project, *followed, floor, ceiling = take_turns(
            [(server.url, "POST", work, 303), *((server.url, "POST", f.work, f.expect) for f in follow_ups.values()),
             (floor_server.url, "POST", floor_work, 303), (ceiling_server.url, "POST", inserts, 201)])
        timed = dict(zip(follow_ups, followed, strict=True))
        for turn in range(ROUNDS):
            log(f"[{label}] turn {turn + 1} of {ROUNDS}: project {project.rates[turn]:.0f}/s, floor {floor.rates[turn]:.0f}/s, "
                f"ceiling {ceiling.rates[turn]:.0f}/s"
                + "".join(f", {name} {t.rates[turn]:.0f}/s" for name, t in timed.items()))
        log(f"[{label}] project: {project.per_s:.0f}/s, p99 {project.p99_ms:.0f} ms; "
            f"floor: {floor.per_s:.0f}/s, p99 {floor.p99_ms:.0f} ms; ceiling: {ceiling.per_s:.0f}/s, p99 {ceiling.p99_ms:.0f} ms"
            + "".join(f"; {name}: {t.per_s:.0f}/s, p99 {t.p99_ms:.0f} ms, {project.per_s / t.per_s:.2f} × a submission's cost"
                      for name, t in timed.items()))
        written = {table: n - before[table] for table, n in intake_floor.counts(url).items()}
        wanted = intake_floor.expected_rows(project.count + floor.count + CLIENTS)  # the floor's warm-up too
        for name, f in follow_ups.items():  # the follow-ups' timed requests (their warm-up came before ``before``)
            for table, rows in f.writes.items():
                wanted[table] += rows * timed[name].count
        if written != wanted:
            raise RuntimeError(f"the app and the floor did not write what they should have: {written}, expected {wanted}")
        for f in follow_ups.values():
            f.check()

        log(f"[{label}] 'Your changes' with 1 report and with 1,000")
        one, thousand = emails[CLIENTS], emails[CLIENTS + 1]
        many_reports(url, one, 1)
        many_reports(url, thousand, 1000)
        cookies = asyncio.run(signed_in(server.url, [one, thousand]))
        page = {
            "one_report_ms": asyncio.run(time_page(server.url, cookies[0], "/changes")),
            "thousand_reports_ms": asyncio.run(time_page(server.url, cookies[1], "/changes")),
            "thousand_reports_last_page_ms": asyncio.run(time_page(server.url, cookies[1], "/changes?page=40")),
        }
        log(f"[{label}] your changes: {page}")
    finally:
        for running in (server, ceiling_server, floor_server):
            if running is not None:
                running.stop()
    return {"database": label, "ratio": project.per_s / ceiling.per_s, "floor_ratio": project.per_s / floor.per_s,
            "project": project, "floor": floor, "ceiling": ceiling, "your_changes": page, "submissions": project.count,
            "follow_ups": timed}


def follow_up_figures(project: Any, timed: Mapping[str, Any]) -> dict[str, Any]:
    """Each follow-up's cost against a submission's (cost: seconds per request at 32 clients, so
    the ratio is the submissions' rate over the follow-up's), its rate, p99 and each turn's ratio."""
    figures: dict[str, Any] = {}
    for name, t in timed.items():
        figures[f"{name}_ratio"] = round(project.per_s / t.per_s, 3)
        figures[f"{name}_per_s"] = round(t.per_s, 1)
        figures[f"{name}_p99_ms"] = round(t.p99_ms, 1)
        figures[f"{name}_turn_ratios"] = [round(p / f, 3) for p, f in zip(project.rates, t.rates, strict=True)]
    return figures


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="tellusonce-bench-intake-") as tmp:
        results = [run(label, fresh_database(url, Path(tmp)), Path(tmp)) for label, url in databases()]
    worst = min(results, key=lambda r: r["floor_ratio"])
    print(json.dumps({
        "bench": "intake",
        "floor_ratio": round(worst["floor_ratio"], 3),
        "ratio": round(worst["ratio"], 3),
        "project_per_s": round(worst["project"].per_s, 1),
        "floor_per_s": round(worst["floor"].per_s, 1),
        "ceiling_per_s": round(worst["ceiling"].per_s, 1),
        "p99_ms": round(max(r["project"].p99_ms for r in results), 1),
        "database": worst["database"],
        **{f"{name}_ratio": max(round(r["project"].per_s / r["follow_ups"][name].per_s, 3) for r in results)
           for name in FOLLOW_UPS},
        "clients": CLIENTS,
        "gunicorn_workers": WORKERS,
        "runs": {r["database"]: {
            "floor_ratio": round(r["floor_ratio"], 3), "ratio": round(r["ratio"], 3),
            "project_per_s": round(r["project"].per_s, 1), "floor_per_s": round(r["floor"].per_s, 1),
            "ceiling_per_s": round(r["ceiling"].per_s, 1), "p99_ms": round(r["project"].p99_ms, 1),
            "floor_p99_ms": round(r["floor"].p99_ms, 1), "ceiling_p99_ms": round(r["ceiling"].p99_ms, 1),
            "submissions": r["submissions"],
            "turn_floor_ratios": [round(p / f, 3) for p, f in zip(r["project"].rates, r["floor"].rates, strict=True)],
            "turn_ratios": [round(p / c, 3) for p, c in zip(r["project"].rates, r["ceiling"].rates, strict=True)],
            **follow_up_figures(r["project"], r["follow_ups"]),
            "your_changes_ms": {k: round(v, 1) for k, v in r["your_changes"].items()},
        } for r in results},
    }))


if __name__ == "__main__":
    main()
