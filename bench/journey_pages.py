"""Journey pages benchmark: a question page's GET and POST against a bare read and a bare write.

A report's answers live in the database between pages (``tellusonce.web.journey``): every
question page reads its journey, and every answer writes it, in the request's transaction. In
one run, for SQLite and (with TELLUSONCE_BENCH_DATABASE_URL=postgresql://…, whose schema this
benchmark drops and rebuilds) PostgreSQL, under the same gunicorn settings and 32 concurrent
clients, each signed in with a move started:

1. project GET: ``/report/questions/new-address`` (session, citizen, the journey read by id
   and citizen, the form pre-filled and rendered);
2. project POST: the same page answered (CSRF, the journey read, the answers validated by the
   domain, the journey written, committed; a 302 to the next page);
3. ceiling GET and POST: a bare Flask app (``support.web.ceiling_app``) that reads one row by its key, or
   inserts one row, in one transaction per request, on the same database;
4. floor GET: a bare Flask app (``support.journey_floor``) doing only what the page's GET cannot do
   without (the signed session read, the journey row read by its key, a CSRF token, a GOV.UK page
   with the same four inputs through ``govukInput``), given the same clients' cookies.

With TELLUSONCE_BENCH_COMPARE_ROOT naming another checkout (say, one before journeys moved to
the database, where they were files under the instance folder), its app is run beside this one
on the same database and timed in the same turns ("compare_get", "compare_post").

Before any is timed, each client sends one request of each that is not. The project and the
ceiling then take turns (``ROUNDS``), a third of the work each turn, so that a shared machine's
good and bad moments fall on both alike.

Prints one JSON line at the end: {"bench": "journey_pages", "get_ratio": project GET ÷ ceiling
GET, "post_ratio": project POST ÷ ceiling POST, "get_p99_ms": …, "post_p99_ms": …,
"get_floor_ratio": project GET ÷ floor GET, "floor_get_p99_ms": …, "runs":
{database: …}} where the headline figures are the lower ratios and the higher p99s of the
databases run. The target: p99 under 100 ms for both at 32 clients on each database.
TELLUSONCE_BENCH_JOURNEY_COUNT sets the requests of each kind per database (default 960).
Takes a minute or two a database; not a test (how to run it and the figures: bench/README.md).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import aiohttp  # noqa: E402
from support.web import (  # noqa: E402
    CEILING_ROWS,
    CLIENTS,
    COOKIE,
    ROUNDS,
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
    start_bench_app,
    start_ceiling,
    take_turns,
    warm_up,
)

COMPARE_ROOT = os.environ.get("TELLUSONCE_BENCH_COMPARE_ROOT")
COUNT = int(os.environ.get("TELLUSONCE_BENCH_JOURNEY_COUNT", "960"))
PAGE = "/report/questions/new-address"
ANSWER = {"address_line_1": "4 Canal Wharf", "town": "Leeds", "postcode": "LS11 5PS"}


async def _journeys(base: str, emails: list[str]) -> list[tuple[str, str]]:
    """Each client signed in with a move started: its cookie and its CSRF token."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:

        async def one(email: str) -> tuple[str, str]:
            journey = Journey(http, base, await sign_in(http, base, email))
            token = csrf_token(await journey.request("GET", "/report/change"))
            await journey.request("POST", "/report/change", {"csrf_token": token, "change_type": "address"},
                                  expect=302)
            return journey.cookie, token

        return list(await asyncio.gather(*(one(e) for e in emails[:CLIENTS])))


def run(label: str, url: str, workdir: Path) -> dict[str, Any]:
    log(f"[{label}] preparing the database")
    emails = prepare(url)
    env = app_env(label, url, workdir)
    server = Gunicorn("tellusonce:create_app()", env, ROOT, workdir / f"gunicorn-{label}.log")
    ceiling: Gunicorn | None = None
    floor: Gunicorn | None = None
    other: Gunicorn | None = None
    try:
        if COMPARE_ROOT:
            other = Gunicorn("tellusonce:create_app()", dict(env, TELLUSONCE_INSTANCE_PATH=str(workdir / "compare")),
                             Path(COMPARE_ROOT), workdir / f"gunicorn-{label}-compare.log")
        ceiling = start_ceiling(label, env, workdir)
        floor = start_bench_app("support.journey_floor:floor_app()", "floor", label, env, workdir)
        per_client = -(-COUNT // CLIENTS)
        gets, posts = _page_work(server.url, emails, per_client)
        other_gets, other_posts = _page_work(other.url, emails, per_client) if other else ([], [])
        reads = [[(f"/read/{1 + (i * 7 + j) % CEILING_ROWS}", {}, None) for j in range(per_client + 1)]
                 for i in range(CLIENTS)]
        inserts = [[("/insert", {}, {"body": f"row {i}-{j}"}) for j in range(per_client + 1)] for i in range(CLIENTS)]
        log(f"[{label}] warming up: one request of each kind per client (not timed)")
        kinds = [(server.url, "GET", gets, 200), (server.url, "POST", posts, 302),
                 (ceiling.url, "GET", reads, 200), (ceiling.url, "POST", inserts, 201),
                 (floor.url, "GET", gets, 200)]  # the page's own sessions and journeys
        if other is not None:
            kinds += [(other.url, "GET", other_gets, 200), (other.url, "POST", other_posts, 302)]
        timings = take_turns([(base, method, warm_up(base, method, work, expect), expect)
                              for base, method, work, expect in kinds])
        page_get, page_post, bare_read, bare_insert, floor_get = timings[:5]
        for turn in range(ROUNDS):
            log(f"[{label}] turn {turn + 1} of {ROUNDS}: GET {page_get.rates[turn]:.0f}/s (floor "
                f"{floor_get.rates[turn]:.0f}/s, bare read {bare_read.rates[turn]:.0f}/s), POST {page_post.rates[turn]:.0f}/s (bare insert "
                f"{bare_insert.rates[turn]:.0f}/s)")
        if other is not None:
            files = sum(1 for _ in (workdir / "compare").rglob("*.json"))
            log(f"[{label}] the compared checkout left {files} journey files in its instance folder")
    finally:
        for running in (server, ceiling, floor, other):
            if running is not None:
                running.stop()
    result = {"database": label, "get": page_get, "post": page_post, "read": bare_read, "insert": bare_insert,
              "floor_get": floor_get}
    if other is not None:
        result.update(compare_get=timings[5], compare_post=timings[6])
        log(f"[{label}] compared checkout: GET {timings[5].per_s:.0f}/s p99 {timings[5].p99_ms:.0f} ms, "
            f"POST {timings[6].per_s:.0f}/s p99 {timings[6].p99_ms:.0f} ms")
    log(f"[{label}] floor GET {floor_get.per_s:.0f}/s p99 {floor_get.p99_ms:.0f} ms")
    log(f"[{label}] GET {page_get.per_s:.0f}/s p99 {page_get.p99_ms:.0f} ms, POST {page_post.per_s:.0f}/s "
        f"p99 {page_post.p99_ms:.0f} ms; bare read {bare_read.per_s:.0f}/s, bare insert {bare_insert.per_s:.0f}/s")
    return result


def _page_work(base: str, emails: list[str], per_client: int) -> tuple[Work, Work]:
    """Each client's GETs and POSTs of the question page, on the app at ``base``."""
    clients = asyncio.run(_journeys(base, emails))
    gets = [[(PAGE, {"Cookie": f"{COOKIE}={cookie}"}, None)] * (per_client + 1) for cookie, _ in clients]
    posts = [[(PAGE, {"Cookie": f"{COOKIE}={cookie}"}, {"csrf_token": token, **ANSWER})] * (per_client + 1)
             for cookie, token in clients]
    return gets, posts


def _figures(r: dict[str, Any]) -> dict[str, Any]:
    compared = {}
    if "compare_get" in r:
        compared = {"compare_get_per_s": round(r["compare_get"].per_s, 1),
                    "compare_post_per_s": round(r["compare_post"].per_s, 1),
                    "compare_get_p99_ms": round(r["compare_get"].p99_ms, 1),
                    "compare_post_p99_ms": round(r["compare_post"].p99_ms, 1),
                    "compare_get_median_ms": round(r["compare_get"].median_ms, 1),
                    "compare_post_median_ms": round(r["compare_post"].median_ms, 1)}
    return {**compared,
        "get_ratio": round(r["get"].per_s / r["read"].per_s, 3),
        "get_floor_ratio": round(r["get"].per_s / r["floor_get"].per_s, 3),
        "floor_get_per_s": round(r["floor_get"].per_s, 1), "floor_get_p99_ms": round(r["floor_get"].p99_ms, 1),
        "post_ratio": round(r["post"].per_s / r["insert"].per_s, 3),
        "get_per_s": round(r["get"].per_s, 1), "post_per_s": round(r["post"].per_s, 1),
        "read_per_s": round(r["read"].per_s, 1), "insert_per_s": round(r["insert"].per_s, 1),
        "get_p99_ms": round(r["get"].p99_ms, 1), "post_p99_ms": round(r["post"].p99_ms, 1),
        "get_median_ms": round(r["get"].median_ms, 1), "post_median_ms": round(r["post"].median_ms, 1),
        "read_p99_ms": round(r["read"].p99_ms, 1), "insert_p99_ms": round(r["insert"].p99_ms, 1),
        "requests": r["get"].count,
    }


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="tellusonce-bench-journey-") as tmp:
        results = [run(label, fresh_database(url, Path(tmp)), Path(tmp)) for label, url in databases()]
    runs = {r["database"]: _figures(r) for r in results}
    print(json.dumps({
        "bench": "journey_pages",
        "get_ratio": min(f["get_ratio"] for f in runs.values()),
        "post_ratio": min(f["post_ratio"] for f in runs.values()),
        "get_p99_ms": max(f["get_p99_ms"] for f in runs.values()),
        "get_floor_ratio": min(f["get_floor_ratio"] for f in runs.values()),
        "floor_get_p99_ms": max(f["floor_get_p99_ms"] for f in runs.values()),
        "post_p99_ms": max(f["post_p99_ms"] for f in runs.values()),
        "clients": CLIENTS,
        "runs": runs,
    }))


if __name__ == "__main__":
    main()
