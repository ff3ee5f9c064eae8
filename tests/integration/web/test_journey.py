"""Report journeys live in the database: any web process (any host) carries a journey on, and
nothing of a citizen's answers is written to the host's disk.

Two Flask apps built with different instance folders stand for two hosts behind a proxy that
alternates requests; the session cookie goes with the citizen from one to the other.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from account_helpers import csrf_token, post_form
from click.testing import CliRunner
from flask import Flask
from flask.cli import ScriptInfo
from flask.testing import FlaskClient
from journey_helpers import answer_pages, choose, count, move_answers, report_a_move, signed_in, start_change
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from tellusonce import create_app
from tellusonce.cli import main
from tellusonce.db import is_sqlite, transaction
from tellusonce.models import ChangeReport, ReportJourney
from tellusonce.settings import Settings


@pytest.fixture
def other_host(settings: Settings, tmp_path: Path, engine: Engine) -> Iterator[Flask]:
    """A second web app on the same database and secret, with its own instance folder."""
    app = create_app(replace(settings, instance_path=tmp_path / "other-host"))
    yield app
    app.extensions["tellusonce.engine"].dispose()


def _session_cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie(client.application.config["SESSION_COOKIE_NAME"])
    assert cookie is not None
    return cookie.value


def _set_session_cookie(client: FlaskClient, value: str) -> None:
    client.set_cookie(client.application.config["SESSION_COOKIE_NAME"], value)


def _move_to(client: FlaskClient, other: FlaskClient) -> None:
    """The proxy sends the next request to the other host: the browser's cookie goes with it."""
    _set_session_cookie(other, _session_cookie(client))


def _files_under(*folders: Path) -> list[Path]:
    return [p for folder in folders if folder.exists() for p in folder.rglob("*") if p.is_file()]


def test_a_journey_goes_on_whichever_host_serves_each_page(app: Flask, other_host: Flask) -> None:
    a, b = app.test_client(), other_host.test_client()
    signed_in(app, a)
    start_change(a, "address")
    pages = list(move_answers().items())
    clients = [b, a]
    current = a
    for i, (slug, answers) in enumerate(pages):
        nxt = clients[i % 2]
        _move_to(current, nxt)
        current = nxt
        answer_pages(current, {slug: answers})
    _move_to(current, a)
    response = choose(a, ["dvla", "hmrc", "leeds-council-tax"])
    assert response.status_code == 302 and response.location == "/report/check"
    _move_to(a, b)
    sent = post_form(b, "/report/check", {})
    assert sent.status_code == 303 and sent.location.startswith("/report/confirmation/")
    assert count(app, ChangeReport) == 1 and count(app, ReportJourney) == 0
    # Neither host kept anything of the citizen's answers on its disk.
    assert _files_under(Path(app.instance_path), Path(other_host.instance_path)) == []


def _journey_ids(app: Flask) -> list[str]:
    with transaction(app.extensions["tellusonce.engine"], writer=False) as session:
        return list(session.scalars(select(ReportJourney.id)))


def test_a_journey_untouched_for_a_day_is_not_found(app: Flask, client: FlaskClient, clock) -> None:
    signed_in(app, client)
    start_change(client, "address")
    answer_pages(client, {"your-details": {}})
    clock.advance(timedelta(hours=23))
    answer_pages(client, {"new-address": move_answers()["new-address"]})  # a change: another day from now
    clock.advance(timedelta(hours=23))
    assert client.get("/report/questions/move-date").status_code == 200
    clock.advance(timedelta(hours=2))
    page = client.get("/report/questions/move-date")
    assert page.status_code == 302 and page.location == "/report/change"
    assert "We could not find your answers" in client.get("/report/change").get_data(as_text=True)


def test_expired_journeys_are_deleted_by_the_retention_run(app: Flask, client: FlaskClient, clock) -> None:
    signed_in(app, client)
    start_change(client, "address")
    other = app.test_client()
    signed_in(app, other)
    start_change(other, "name")
    clock.advance(timedelta(hours=25))
    start_change(other, "address")  # a new journey replaces that citizen's old one at once
    assert len(_journey_ids(app)) == 2
    result = CliRunner().invoke(main, ["retention", "run"], obj=ScriptInfo(create_app=lambda: app),
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert re.search(r"^journeys +1 were deleted", result.output, re.M), result.output
    assert len(_journey_ids(app)) == 1


def test_another_citizen_cannot_load_a_journey_with_its_id(app: Flask, client: FlaskClient) -> None:
    signed_in(app, client)
    report_a_move(client, submit=False)
    [journey_id] = _journey_ids(app)
    intruder = app.test_client()
    signed_in(app, intruder)
    with intruder.session_transaction() as cookie:
        cookie["report_journey"] = journey_id
    for page in ("/report/questions/new-address", "/report/check", "/report/organisations"):
        response = intruder.get(page)
        assert response.status_code == 302 and response.location == "/report/change", page
    assert "4 Canal Wharf" not in intruder.get("/report/change").get_data(as_text=True)
    # Nor send it, nor change it: the owner's journey is as it was.
    assert post_form(intruder, "/report/questions/new-address", {"town": "Elsewhere"},
                     form_page="/report/change").status_code == 302
    assert count(app, ChangeReport) == 0 and _journey_ids(app) == [journey_id]
    assert post_form(client, "/report/check", {}).status_code == 303


def test_a_journey_sent_by_a_request_that_raced_this_one_leads_to_the_same_report(
        app: Flask, client: FlaskClient) -> None:
    """A second press sent before the first response came back carries the cookie from before the
    sending: its journey is deleted by then, and its submission key still finds the report."""
    signed_in(app, client)
    report_a_move(client, submit=False)
    token = csrf_token(client, "/report/check")
    before_sending = _session_cookie(client)
    first = client.post("/report/check", data={"csrf_token": token})
    assert first.status_code == 303 and count(app, ReportJourney) == 0
    _set_session_cookie(client, before_sending)
    second = client.post("/report/check", data={"csrf_token": token})
    assert second.status_code == 303 and second.location == first.location
    assert count(app, ChangeReport) == 1


def test_an_answer_written_while_a_page_read_its_journey_is_kept(
        app: Flask, client: FlaskClient, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """A question page reads and checks before taking SQLite's write lock; another request of the
    same citizen's (another tab) writing the journey in between is not overwritten by it."""
    if not is_sqlite(engine):
        pytest.skip("on PostgreSQL the page's transaction goes on; start_writing begins none")
    from tellusonce.web import report

    signed_in(app, client)
    start_change(client, "address")
    token = csrf_token(client, "/report/questions/new-address")
    [journey_id] = _journey_ids(app)
    real = report.start_writing

    def another_tab_answers_first(session: Session) -> bool:
        with transaction(engine) as other:
            row = other.get(ReportJourney, journey_id)
            assert row is not None
            row.state = {**row.state, "answers": {**row.state["answers"], "others_moving": "no"}}
        return real(session)

    monkeypatch.setattr(report, "start_writing", another_tab_answers_first)
    answers = move_answers()["new-address"]
    assert client.post("/report/questions/new-address", data={**answers, "csrf_token": token}).status_code == 302
    with transaction(engine, writer=False) as db:
        stored = db.scalars(select(ReportJourney.state)).one()["answers"]
    assert stored["others_moving"] == "no" and stored["town"] == "Leeds"
