"""Cancelling a sent report in Chromium, in English and in Welsh: a citizen sends a move to DVLA and
HMRC, opens it, cancels it through the warning page, and follows what cancelling did for each.

The dispatcher is the real worker, sending over HTTP to a department server on 127.0.0.1: DVLA
takes the report, HMRC is down (503), so that when the citizen cancels, DVLA has it and is told it is
cancelled, and HMRC's copy, waiting to be tried again, is never sent. Every page passes axe-core's
WCAG 2.2 AA rules at 1280 px and 375 px, and the Welsh pages have no English left
(tests/english_left.py). Screenshots: cancel-warning, cy-cancel-warning and report-cancelled.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from account_helpers import PASSWORD, make_citizen
from babel.support import Translations
from browser_checks import check_accessible, expect_title, screenshot
from english_left import english_on_page

from tellusonce.clock import today, utcnow
from tellusonce.db import transaction
from tellusonce.models import Department
from tellusonce.web.department_names import organisation_name
from tellusonce.web.language import COOKIE
from tests.catalogues import TRANSLATIONS
from tests.dispatch_helpers import DepartmentServer, dispatch_once, point_at, reset_departments

expect = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed").expect

TOLD = ("dvla", "hmrc")


def _words(language: str, message: str, **values: Any) -> str:
    """``message`` in ``language``, from the catalogue the pages use."""
    text = Translations.load(str(TRANSLATIONS), [language]).gettext(message)
    return text % values if values else text


@pytest.fixture
def departments(live_server: Any) -> Iterator[DepartmentServer]:
    """DVLA and HMRC pointed at a department server on 127.0.0.1; the registry put back after."""
    with DepartmentServer() as server:
        point_at(live_server.engine, server, TOLD)
        try:
            yield server
        finally:
            reset_departments(live_server.engine)


def _dispatch(live_server: Any) -> None:
    """The dispatcher's turn: the worker delivers what is due now (on a thread of its own, its event
    loop beside Playwright's)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(dispatch_once, live_server.engine, live_server.app.config["SETTINGS"], now=utcnow()).result()


def _names(live_server: Any, language: str) -> dict[str, str]:
    with transaction(live_server.engine, writer=False) as session:
        return {d: organisation_name(session.get_one(Department, d), language) for d in TOLD}


def _no_english_left(page: Any, language: str) -> None:
    if language == "cy":
        assert page.evaluate("document.documentElement.lang") == "cy"
        assert not english_on_page(page.content()), (page.url, english_on_page(page.content()))


def _card(page: Any, name: str) -> Any:
    return page.locator(".govuk-summary-card").filter(has=page.locator(".govuk-summary-card__title", has_text=name))


def _send_a_move(page: Any, language: str) -> str:
    """Sign in, report a move to DVLA and HMRC (one-off consent), send it; its reference."""
    page.goto("/account/sign-in")
    page.locator("#email").fill("nia@example.com")
    page.locator("#password").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.goto("/report/change")
    page.locator("input[name=change_type][value=address]").check()

    def submit() -> None:
        with page.expect_navigation():
            page.locator("main form[method=post] button[type=submit]").last.click()

    submit()
    submit()  # your details, from the profile
    page.locator("#address_line_1").fill("4 Canal Wharf")
    page.locator("#town").fill("Leeds")
    page.locator("#postcode").fill("LS11 5PS")
    submit()
    moved = today()
    for part, value in (("day", moved.day), ("month", moved.month), ("year", moved.year)):
        page.locator(f"#move_date-{part}").fill(str(value))
    submit()
    submit()  # no previous address
    page.locator("input[name=others_moving][value=no]").check()
    submit()
    page.locator("input[name=protected_address][value=no]").check()
    submit()
    for department in TOLD:
        page.locator(f"input[name=recipients][value={department}]").check()
        page.locator(f"#consent-{department}").check()  # this time only
    submit()
    expect_title(page, _words(language, "Check your answers before sending"))
    page.get_by_role("button", name=_words(language, "Accept and send")).click()
    expect_title(page, _words(language, "Change reported"))
    return page.locator(".govuk-panel__body strong").inner_text()


@pytest.mark.parametrize("language", ["en", "cy"])
def test_a_citizen_cancels_a_sent_report_through_the_warning_page_and_sees_what_each_organisation_was_told(
        page: Any, live_server: Any, departments: DepartmentServer, language: str) -> None:
    make_citizen(live_server.app, "nia@example.com", ni_number="AB123456C", address_line_1="12 Hill Street",
                 town="Leeds", postcode="LS1 1AA")
    page.context.add_cookies([{"name": COOKIE, "value": language, "url": live_server.url}])
    names = _names(live_server, language)
    reference = _send_a_move(page, language)
    assert re.fullmatch(r"TUO-[0-9A-Z]{4}-[0-9A-Z]{4}", reference)

    departments.behave("hmrc", status=503)  # HMRC is down; DVLA takes it
    _dispatch(live_server)
    page.get_by_role("link", name=_words(language, "Follow what happens to your change")).click()
    expect_title(page, _words(language, "Change %(reference)s", reference=reference))
    expect(_card(page, names["dvla"]).locator(".govuk-tag")).to_have_text(_words(language, "Sent"))
    expect(_card(page, names["hmrc"]).locator(".govuk-tag")).to_have_text(_words(language, "Trying again"))
    _no_english_left(page, language)

    page.get_by_role("link", name=_words(language, "Cancel this report")).click()
    expect_title(page, _words(language, "Cancel report %(reference)s", reference=reference))
    has_it, not_told = page.locator("main ul.govuk-list").all()
    assert names["dvla"] in has_it.inner_text() and names["hmrc"] not in has_it.inner_text()
    assert _words(language, "Who has it already") in page.locator("main h2").all_inner_texts()
    expect(not_told).to_have_text(names["hmrc"])
    check_accessible(page)
    _no_english_left(page, language)
    screenshot(page, "cy-cancel-warning" if language == "cy" else "cancel-warning")
    page.get_by_role("button", name=_words(language, "Cancel this report")).click()

    expect_title(page, _words(language, "Change %(reference)s", reference=reference))
    expect(page.locator(".govuk-notification-banner")).to_contain_text(
        _words(language, "You have cancelled report %(reference)s.", reference=reference))
    hmrc, dvla = _card(page, names["hmrc"]), _card(page, names["dvla"])
    expect(hmrc.locator(".govuk-tag")).to_have_text(_words(language, "Cancelled"))
    expect(hmrc).to_contain_text(_words(language, "Cancelled before sending"))
    expect(hmrc).to_contain_text(_words(language, "This was not sent, because you cancelled the report before it went."))
    expect(dvla.locator(".govuk-tag")).to_have_text(_words(language, "Sent"))
    expect(dvla).to_contain_text(_words(language, "Will be told it is cancelled once they have the report"))
    expect(page.get_by_role("link", name=_words(language, "Cancel this report"))).to_have_count(0)
    _no_english_left(page, language)

    departments.behave("hmrc")  # HMRC is back: nothing is sent to it now
    _dispatch(live_server)  # DVLA is told it is cancelled
    page.reload()
    expect(dvla).to_contain_text(_words(language, "Told it is cancelled"))
    expect(dvla).to_contain_text(_words(language, "Cancellation queued"))
    expect(hmrc.locator(".govuk-tag")).to_have_text(_words(language, "Cancelled"))
    check_accessible(page)
    _no_english_left(page, language)
    if language == "en":
        screenshot(page, "report-cancelled")

    # What the departments got: DVLA the report, then the cancellation naming it; HMRC one failed try.
    dvla_events = departments.bodies("dvla")
    assert [e["type"] for e in dvla_events] == ["tellusonce.change.address.v1", "tellusonce.change.address.cancelled.v1"]
    assert [r.status for r in departments.received if r.department == "hmrc"] == [503]
    assert json.dumps(dvla_events[0]["id"]) in json.dumps(dvla_events[1]["data"])
