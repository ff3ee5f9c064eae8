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
4. "Your changes" for a citizen with 1,000 reports against one with a single
   report (the page shows 25 at a time).

Prints one JSON line at the end: {"bench": "intake", "floor_ratio": project ÷ floor,
"ratio": project ÷ ceiling, "project_per_s": …, "floor_per_s": …, "ceiling_per_s": …,
"p99_ms": …, "runs": {database: …}} where the headline figures are those of the
database with the lower floor ratio (each database's turn ratios show how steady it
was). The target: floor_ratio ≥ 0.55 on each database, p99 under 250 ms.
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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import aiohttp  # noqa: E402
from sqlalchemy import select  # noqa: E402
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
from tellusonce.models import ChangeReport, Citizen, Department  # noqa: E402

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
        before = intake_floor.counts(url)
        floor_work = warm_up(floor_server.url, "POST", floor_work, 303)
        # The three apps take turns, a share of the work each, so that all meet the same machine:
        # on a shared machine one app timed after another can meet a different one.
        project, floor, ceiling = take_turns([(server.url, "POST", work, 303), (floor_server.url, "POST", floor_work, 303),
                                              (ceiling_server.url, "POST", inserts, 201)])
        for turn in range(ROUNDS):
            log(f"[{label}] turn {turn + 1} of {ROUNDS}: project {project.rates[turn]:.0f}/s, floor {floor.rates[turn]:.0f}/s, "
                f"ceiling {ceiling.rates[turn]:.0f}/s")
        log(f"[{label}] project: {project.per_s:.0f}/s, p99 {project.p99_ms:.0f} ms; "
            f"floor: {floor.per_s:.0f}/s, p99 {floor.p99_ms:.0f} ms; ceiling: {ceiling.per_s:.0f}/s, p99 {ceiling.p99_ms:.0f} ms")
        written = {table: n - before[table] for table, n in intake_floor.counts(url).items()}
        wanted = intake_floor.expected_rows(project.count + floor.count + CLIENTS)  # the floor's warm-up too
        if written != wanted:
            raise RuntimeError(f"the app and the floor did not write what they should have: {written}, expected {wanted}")

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
            "project": project, "floor": floor, "ceiling": ceiling, "your_changes": page, "submissions": project.count}


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
            "your_changes_ms": {k: round(v, 1) for k, v in r["your_changes"].items()},
        } for r in results},
    }))


if __name__ == "__main__":
    main()
