"""The intake's final POST ("Check your answers" -> send) in one process, through Flask's test client.

Not a timed benchmark (``bench/intake.py`` is): instructions counted by callgrind, which a busy
shared machine does not move, and the SQL statements each POST runs. One citizen signs in and
sends WARM moves (three organisations, one-off consent each) untimed, then N measured ones,
Python's cyclic collector off during each (bench/README.md, "What limits it").

    valgrind --tool=callgrind --collect-atstart=no .venv/bin/python bench/support/intake_instructions.py . callgrind 10
    .venv/bin/python bench/support/intake_instructions.py . count 5          # statements per POST
    .venv/bin/python bench/support/intake_instructions.py . profile 100      # cProfile, to locate

ROOT is the checkout to measure (this script runs on older ones too). Under callgrind only the
measured POSTs are collected: a few-line C library (compiled with gcc at the start) toggles
collection; INSTR="module:name,…" dumps each call of those functions apart, exclusive of the
others inside it (one callgrind file per dump, labelled; the rest of the request is "request").
Database: TELLUSONCE_CPU_DATABASE_URL (its schema is dropped and rebuilt), else a fresh SQLite file.
"""

from __future__ import annotations

import ctypes
import gc
import os
import re
import secrets
import sys
import tempfile
from datetime import date
from pathlib import Path

ROOT = Path(sys.argv[1]).resolve()
MODE = sys.argv[2]
N = int(sys.argv[3]) if len(sys.argv) > 3 else 10
WARM = int(os.environ.get("WARM", "50"))
sys.path.insert(0, str(ROOT))
os.chdir(ROOT)

tmp = Path(tempfile.mkdtemp(prefix="intake-cpu-"))
URL = os.environ.get("TELLUSONCE_CPU_DATABASE_URL") or f"sqlite:///{tmp / 'cpu.sqlite3'}"
os.environ.update(TELLUSONCE_MODE="demo", TELLUSONCE_SECRET_KEY=secrets.token_urlsafe(48),
                  TELLUSONCE_DATABASE_URL=URL, TELLUSONCE_INSTANCE_PATH=str(tmp / "instance"),
                  TELLUSONCE_ACCOUNT_RATE_LIMIT="1000000 per minute",
                  TELLUSONCE_ACCOUNT_RATE_LIMIT_PER_ADDRESS="1000000 per minute")

from sqlalchemy import event  # noqa: E402

try:
    from tellusonce_services.registry import load_registry, sync_registry  # noqa: E402
except ImportError:
    from services.registry import load_registry, sync_registry  # noqa: E402, TID251  # a checkout before the rename
from tellusonce import create_app  # noqa: E402
from tellusonce.clock import utcnow  # noqa: E402
from tellusonce.db import make_engine, transaction  # noqa: E402
from tellusonce.domain.passwords import hash_password  # noqa: E402
from tellusonce.migrate import wipe_and_upgrade  # noqa: E402
from tellusonce.models import Citizen  # noqa: E402

CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')
RECIPIENTS = ("dvla", "hmrc", "leeds-council-tax")
PASSWORD = "benchmark horse battery staple"
EMAIL = "cpu@example.org"

wipe_and_upgrade(URL)
engine = make_engine(URL)
with transaction(engine) as session:
    sync_registry(session, load_registry(ROOT / "config" / "departments.toml"))
    session.add(Citizen(email=EMAIL, password_hash=hash_password(PASSWORD), email_verified_at=utcnow(), session_version=0,
                        given_names="Amara", family_name="Okafor", date_of_birth=date(1988, 4, 12),
                        ni_number="AB123456C", address_line_1="12 Hill Street", town="Leeds", postcode="LS1 1AA"))
engine.dispose()

app = create_app()
app_engine = app.extensions["tellusonce.engine"]
client = app.test_client()


def token(body: bytes) -> str:
    m = CSRF.search(body.decode())
    assert m, body[:500]
    return m.group(1) or m.group(2)


def post(path: str, data: list[tuple[str, str]], expect: int) -> None:
    from werkzeug.datastructures import MultiDict
    r = client.post(path, data=MultiDict(data))
    assert r.status_code == expect, (path, r.status_code, r.data[:2000])


t = token(client.get("/account/sign-in").data)
post("/account/sign-in", [("csrf_token", t), ("email", EMAIL), ("password", PASSWORD)], 302)


def ready(n: int) -> str:
    t = token(client.get("/report/change").data)
    today = utcnow().date()
    post("/report/change", [("csrf_token", t), ("change_type", "address")], 302)
    post("/report/questions/new-address", [("csrf_token", t), ("address_line_1", f"{n} Canal Wharf"), ("town", "Leeds"),
                                           ("postcode", "LS11 5PS")], 302)
    post("/report/questions/move-date", [("csrf_token", t), ("move_date", str(today.day)), ("move_date", str(today.month)),
                                         ("move_date", str(today.year))], 302)
    post("/report/organisations", [("csrf_token", t)] + [("recipients", d) for d in RECIPIENTS]
         + [(f"consent-{d}", "once") for d in RECIPIENTS], 302)
    return t


def send(t: str) -> None:
    post("/report/check", [("csrf_token", t)], 303)


for i in range(WARM):
    send(ready(i))

statements: list[tuple[str, bool, int]] = []
traced: list[str] = []
counting = False


@event.listens_for(app_engine, "before_cursor_execute")
def _count(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
    if counting:
        rows = len(parameters) if executemany else 1
        statements.append((" ".join(statement.split())[:110], executemany, rows))


CONTROL = """#include <valgrind/callgrind.h>
void cg_toggle(void) { CALLGRIND_TOGGLE_COLLECT; }
int cg_running(void) { return RUNNING_ON_VALGRIND; }
void cg_dump(const char *label) { CALLGRIND_DUMP_STATS_AT(label); }
"""

if MODE == "callgrind":
    import subprocess
    (tmp / "cgctl.c").write_text(CONTROL)
    subprocess.run(["gcc", "-O2", "-shared", "-fPIC", "-o", str(tmp / "libcgctl.so"), str(tmp / "cgctl.c")], check=True)
    lib = ctypes.CDLL(str(tmp / "libcgctl.so"))
    assert lib.cg_running(), "run under valgrind --tool=callgrind --collect-atstart=no"
    # INSTR="module:name,…": each call of these is dumped apart (exclusive of the others inside it),
    # the rest of the request as "request".
    import functools
    import importlib
    stack = ["request"]

    def wrapped(label, f):
        @functools.wraps(f)
        def inner(*a, **k):
            lib.cg_dump(stack[-1].encode())
            stack.append(label)
            try:
                return f(*a, **k)
            finally:
                lib.cg_dump(stack.pop().encode())
        return inner

    for spec in filter(None, os.environ.get("INSTR", "").split(",")):
        module, dotted = spec.split(":")
        owner = importlib.import_module(module)
        *path, name = dotted.split(".")
        for part in path:
            owner = getattr(owner, part, None)
        if owner is None or name not in vars(owner):
            print("missing", spec, file=sys.stderr)
            continue
        setattr(owner, name, wrapped(spec, vars(owner)[name]))
    for i in range(N):
        t = ready(WARM + i)
        gc.disable()
        lib.cg_toggle()
        send(t)
        lib.cg_dump(b"request")
        lib.cg_toggle()
        gc.enable()
elif MODE == "profile":
    import cProfile
    import pstats
    prof = cProfile.Profile()
    for i in range(N):
        t = ready(WARM + i)
        gc.disable()
        prof.enable()
        send(t)
        prof.disable()
        gc.enable()
    out = os.environ.get("PROFILE_OUT", str(tmp / "intake.prof"))
    prof.dump_stats(out)
    pstats.Stats(out).sort_stats("cumulative").print_stats(60)
elif MODE == "count":
    if URL.startswith("sqlite"):
        with app_engine.connect() as c:  # every connection from now on traces its statements
            pass

        @event.listens_for(app_engine, "connect")
        def _trace(dbapi_connection, record):  # type: ignore[no-untyped-def]
            dbapi_connection.set_trace_callback(lambda s: traced.append(s) if counting else None)

        app_engine.dispose()
    for i in range(N):
        t = ready(WARM + i)
        counting = True
        send(t)
        counting = False
    print(f"SQLAlchemy cursor executions per submission: {len(statements) / N:.2f} "
          f"(rows {sum(r for *_, r in statements) / N:.2f})")
    for s, many, rows in statements[: len(statements) // N]:
        print(f"  {'many' if many else 'one '} {rows:2d} {s}")
    if traced:
        print(f"sqlite3 statements run per submission (trace callback, executemany rows each): {len(traced) / N:.2f}")
        for s in traced[: len(traced) // N]:
            print("   ", " ".join(s.split())[:110])
print("done", MODE, N)
