"""Save or print: a report's confirmation and its page print as a record of what was sent.

Printed (Chromium's print media), each page shows the reference, the date, every organisation
with what it is told and the consent receipt it is sent under, and none of the service's
menus, links to other pages or buttons.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from account_helpers import PASSWORD, make_citizen
from browser_checks import check_accessible, expect_title

from tellusonce.application.intake import ChangeRequest, submit_change
from tellusonce.clock import today, utcnow
from tellusonce.db import transaction
from tellusonce.models import Citizen, ConsentGrant

expect = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed").expect

NOT_PRINTED = (".govuk-header", ".govuk-service-navigation", ".govuk-footer", ".govuk-phase-banner",
               ".app-language-switch", ".govuk-back-link", ".govuk-button")


def _move(live_server: Any, citizen: Citizen) -> tuple[str, list[str]]:
    with transaction(live_server.engine) as session:
        me = session.get_one(Citizen, citizen.id)
        result = submit_change(session, me, ChangeRequest(
            change_type="address", answers={"address_line_1": "4 Canal Wharf", "town": "Leeds", "postcode": "LS11 5PS",
                                            "move_date": today().isoformat()},
            recipients=["dvla", "hmrc"], consent={"dvla": "once", "hmrc": "once"}, channel="web",
            submission_key=uuid.uuid4().hex,
        ), now=utcnow())
        receipts = [str(g.receipt_id) for g in session.query(ConsentGrant).filter_by(citizen_id=me.id)]
        return result.report.reference, receipts


def _check_printed(page: Any, reference: str, receipts: list[str]) -> None:
    page.emulate_media(media="print")
    try:
        main = page.locator("main")
        printed = main.inner_text()
        assert reference in printed
        assert "Reported on" in printed
        for name, detail in (("Driver and Vehicle Licensing Agency", "Postcode"), ("HM Revenue and Customs", "Postcode")):
            assert name in printed and detail in printed
        for receipt in receipts:
            assert receipt in printed
        for selector in NOT_PRINTED:
            shown = [e for e in page.locator(selector).all() if e.is_visible()]
            assert not shown, f"{selector} is printed"
    finally:
        page.emulate_media(media="screen")


def test_the_confirmation_and_the_report_page_print_as_a_record(page: Any, live_server: Any) -> None:
    citizen = make_citizen(live_server.app, "print@example.com", ni_number="AB123456C", address_line_1="12 Hill Street",
                           town="Leeds", postcode="LS1 1AA")
    reference, receipts = _move(live_server, citizen)
    assert len(receipts) == 2
    page.goto(f"/account/sign-in?next=/report/confirmation/{reference}")
    page.get_by_label("Email address").fill("print@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    expect_title(page, "Change reported")
    expect(page.get_by_role("heading", name="Save or print")).to_be_visible()
    expect(page.get_by_role("button", name="Print this page")).to_be_visible()  # once JavaScript has run
    _check_printed(page, reference, receipts)
    check_accessible(page)

    page.goto(f"/changes/{reference}")
    expect_title(page, f"Change {reference}")
    expect(page.get_by_role("heading", name="Save or print")).to_be_visible()
    _check_printed(page, reference, receipts)
    check_accessible(page)


def test_without_javascript_the_page_says_how_to_print_and_shows_no_dead_button(browser: Any, live_server: Any) -> None:
    citizen = make_citizen(live_server.app, "noscript-print@example.com", ni_number="AB123456C")
    reference, receipts = _move(live_server, citizen)
    context = browser.new_context(java_script_enabled=False, base_url=live_server.url)
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        page.goto(f"/account/sign-in?next=/changes/{reference}")
        page.get_by_label("Email address").fill("noscript-print@example.com")
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect_title(page, f"Change {reference}")
        assert "browser's Print option" in page.locator("main").inner_text()
        assert not page.get_by_role("button", name="Print this page").is_visible()
        _check_printed(page, reference, receipts)
    finally:
        context.close()
