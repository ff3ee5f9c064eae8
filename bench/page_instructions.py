"""Instructions a question page costs in one process, counted by callgrind.

On a shared machine process CPU time varies by more than a change to the page does; the
instructions a request executes do not. For SQLite and (with TELLUSONCE_BENCH_DATABASE_URL,
whose schema is dropped and rebuilt) PostgreSQL, this runs the app in one process under
``valgrind --tool=callgrind`` and drives it through Flask's test client (the same WSGI stack as
under gunicorn, without the socket): a citizen signs in through the sign-in form and starts a
move, then, on ``/report/questions/new-address`` (the page ``journey_pages.py`` times), it sends
``WARM`` GETs and ``WARM`` POSTs untimed, then ``COUNT`` GETs and ``COUNT`` POSTs, each kind in a
thread of its own with Python's cyclic garbage collector off (a collection falling in the
window or not moves a figure by up to a quarter). Only those threads are counted
(``--toggle-collect=thread_run``, CPython's thread entry; ``--separate-threads=yes``): start-up,
sign-in and the warm-up are not.

Prints one JSON line: {"bench": "page_instructions", "runs": {database: {"get": instructions a
GET, "post": instructions a POST}}}. TELLUSONCE_BENCH_PAGE_LANGUAGE=cy counts the Welsh page.
Needs valgrind; takes a minute or two a database. Not a test (figures: bench/README.md,
"Journey pages").
"""

from __future__ import annotations

import gc
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from support.web import PASSWORD, app_env, csrf_token, databases, fresh_database, log, prepare  # noqa: E402

PAGE = "/report/questions/new-address"
ANSWER = {"address_line_1": "4 Canal Wharf", "town": "Leeds", "postcode": "LS11 5PS"}
WARM = 50
COUNT = 10
LANGUAGE = os.environ.get("TELLUSONCE_BENCH_PAGE_LANGUAGE", "en")


def inside(email: str) -> None:
    """Under callgrind: the app on the environment's database, driven as the module says."""
    from tellusonce import create_app

    client = create_app().test_client()
    client.set_cookie("tellusonce_language", LANGUAGE)
    token = csrf_token(client.get("/account/sign-in").get_data(as_text=True))
    _expect(client.post("/account/sign-in", data={"csrf_token": token, "email": email, "password": PASSWORD}), 302)
    token = csrf_token(client.get("/report/change").get_data(as_text=True))
    _expect(client.post("/report/change", data={"csrf_token": token, "change_type": "address"}), 302)

    def get() -> None:
        _expect(client.get(PAGE), 200)

    def post() -> None:
        _expect(client.post(PAGE, data={"csrf_token": token, **ANSWER}), 302)

    for request in (get, post):
        for _ in range(WARM):
            request()
    # One counted thread each, in this order. A thread waits, counted but idle, until both are
    # done: valgrind gives a finished thread's number to the next, which would share its file.
    done, finish = threading.Semaphore(0), threading.Event()

    def counted(request: Callable[[], None]) -> None:
        for _ in range(COUNT):
            request()
        done.release()
        finish.wait()

    threads = [threading.Thread(target=counted, args=(request,)) for request in (get, post)]
    for thread in threads:
        gc.collect()
        gc.disable()
        thread.start()
        done.acquire()
        gc.enable()
    finish.set()
    for thread in threads:
        thread.join()


def _expect(response: object, status: int) -> None:
    if response.status_code != status:  # type: ignore[attr-defined]
        raise RuntimeError(f"{response.status_code}, expected {status}")  # type: ignore[attr-defined]


def count(label: str, url: str, workdir: Path) -> dict[str, int]:
    log(f"[{label}] preparing the database")
    email = prepare(url)[0]
    out = workdir / f"callgrind-{label}.out"
    env = dict(app_env(label, url, workdir), PYTHONHASHSEED="0")
    log(f"[{label}] the app under callgrind: {WARM} GETs and POSTs untimed, then {COUNT} of each counted")
    subprocess.run(["valgrind", "--tool=callgrind", "--toggle-collect=thread_run", "--separate-threads=yes",
                    f"--callgrind-out-file={out}", sys.executable, __file__, "--inside", email],
                   env=env, check=True, stderr=subprocess.DEVNULL)
    # One file a thread (``out-01`` the main thread, counted not at all); the counted ones in order.
    totals = [_total(path) for path in sorted(workdir.glob(f"{out.name}-*"))]
    counted = [t for t in totals if t]
    if len(counted) != 2:
        raise RuntimeError(f"expected two counted threads, found {totals}")
    get, post = (t // COUNT for t in counted)
    log(f"[{label}] GET {get / 1e6:.1f} M instructions, POST {post / 1e6:.1f} M")
    return {"get": get, "post": post}


def _total(path: Path) -> int:
    found = re.search(r"^(?:totals|summary): (\d+)", path.read_text(), re.MULTILINE)
    return int(found.group(1)) if found else 0


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--inside":
        inside(sys.argv[2])
        return
    if shutil.which("valgrind") is None:
        sys.exit("page_instructions: valgrind is not installed")
    with tempfile.TemporaryDirectory(prefix="tellusonce-bench-instructions-") as tmp:
        runs = {label: count(label, fresh_database(url, Path(tmp)), Path(tmp)) for label, url in databases()}
    print(json.dumps({"bench": "page_instructions", "language": LANGUAGE, "warm": WARM, "counted": COUNT, "runs": runs}))


if __name__ == "__main__":
    main()
