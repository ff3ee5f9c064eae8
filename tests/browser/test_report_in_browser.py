"""Reporting a change in Chromium, as a person would: register, verify, report a move, follow it.

Every page of the journey passes axe-core's WCAG 2.2 AA rules at 1280 px and
375 px without sideways scrolling; the main pages are saved as screenshots for
the docs. A second run does the journey on a phone without JavaScript.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from account_helpers import PASSWORD, make_citizen
from browser_checks import check_accessible, screenshot
from sqlalchemy import update

from tellusonce.clock import today, utcnow
from tellusonce.db import transaction
from tellusonce.models import Notification, NotificationState

expect = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed").expect


def _title(page: Any, start: str) -> None:
    """Wait for the page whose title starts with ``start`` (a form post may still be loading)."""
    expect(page).to_have_title(re.compile("^" + re.escape(start)))


def _register_and_confirm(page: Any, email: str) -> None:
    page.goto("/account/create")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Create a password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.get_by_role("link", name="Read the email in the demo mailbox").click()
    page.get_by_role("link", name="Confirm your email address").first.click()
    page.get_by_role("link", name="/account/verify/").click()
    page.get_by_role("button", name="Confirm email address").click()
    _title(page, "Your details")


def _fill_profile(page: Any) -> None:
    page.get_by_label("Given names").fill("Amara")
    page.get_by_label("Family name").fill("Okafor")
    page.get_by_label("Day").fill("12")
    page.get_by_label("Month").fill("4")
    page.get_by_label("Year").fill("1988")
    page.get_by_label("National Insurance number").fill("AB 12 34 56 C")
    page.get_by_label("Address line 1").fill("12 Hill Street")
    page.get_by_label("Town or city").fill("Leeds")
    page.get_by_label("Postcode").fill("LS1 1AA")
    page.get_by_role("button", name="Save your details").click()


def _continue(page: Any) -> None:
    page.get_by_role("button", name="Continue").click()


def _set_state(live_server: Any, department_id: str, state: str) -> None:
    now = utcnow()
    with transaction(live_server.engine) as session:
        session.execute(update(Notification).where(Notification.department_id == department_id)
                        .values(state=state, delivered_at=now, acknowledged_at=now if state == "acknowledged" else None))


def test_a_person_registers_reports_a_move_to_three_organisations_and_follows_it(page: Any, live_server: Any) -> None:
    _register_and_confirm(page, "amara@example.com")
    _fill_profile(page)

    page.get_by_role("navigation", name="Menu").get_by_role("link", name="Report a change").click()
    _title(page, "Report a change")
    check_accessible(page)
    screenshot(page, "report-start")
    page.get_by_role("button", name="Start now").click()

    _title(page, "What has changed?")
    check_accessible(page)
    screenshot(page, "report-choose-change")
    page.get_by_label("Moving home").check()
    _continue(page)

    _title(page, "Check your details")
    assert page.get_by_label("Given names").input_value() == "Amara"  # from the profile
    check_accessible(page)
    _continue(page)

    _title(page, "What is your new address?")
    page.get_by_label("Address line 1").fill("4 Canal Wharf")
    page.get_by_label("Town or city").fill("Leeds")
    page.get_by_label("Postcode").fill("QQ1 1QQ")
    _continue(page)
    _title(page, "Error: What is your new address?")
    check_accessible(page)
    screenshot(page, "report-question-error")
    page.get_by_role("link", name="Enter a real postcode, like LS1 1AA").click()
    assert page.evaluate("document.activeElement.id") == "postcode"
    page.get_by_label("Postcode").fill("ls11 5ps")
    _continue(page)

    _title(page, "When did you move?")
    moved_on = today()
    page.get_by_label("Day").fill(str(moved_on.day))
    page.get_by_label("Month").fill(str(moved_on.month))
    page.get_by_label("Year").fill(str(moved_on.year))
    check_accessible(page)
    _continue(page)

    _title(page, "What was your previous address?")
    assert page.get_by_label("Previous postcode (optional)").input_value() == "LS1 1AA"
    check_accessible(page)
    _continue(page)
    page.get_by_label("No").check()
    check_accessible(page)
    _continue(page)
    _title(page, "Do you want to keep your new address protected?")
    page.get_by_label("No").check()
    _continue(page)

    _title(page, "Which organisations do you want to tell?")
    page.get_by_label("Driver and Vehicle Licensing Agency (DVLA)").check()
    page.locator("#consent-dvla").check()  # this time
    page.get_by_label("HM Revenue and Customs (HMRC)").check()
    page.locator("#consent-hmrc-2").check()  # always, for moves
    page.get_by_label("Leeds City Council – Council Tax").check()
    page.locator("#consent-leeds-council-tax").check()
    check_accessible(page)
    screenshot(page, "report-organisations")
    _continue(page)

    _title(page, "Check your answers before sending")
    check_accessible(page)
    screenshot(page, "report-check")
    dvla = page.locator("#recipient-dvla").inner_text()
    hmrc = page.locator("#recipient-hmrc").inner_text()
    assert "LS11 5PS" in dvla and "AB123456C" not in dvla  # DVLA is not given the NI number
    assert "AB123456C" in hmrc
    page.get_by_role("button", name="Accept and send").click()

    _title(page, "Change reported")
    check_accessible(page)
    screenshot(page, "report-confirmation")
    reference = page.locator(".govuk-panel__body strong").inner_text()
    assert re.fullmatch(r"TUO-[0-9A-Z]{4}-[0-9A-Z]{4}", reference)

    page.get_by_role("link", name="Follow what happens to your change").click()
    _title(page, f"Change {reference}")
    expect(page.locator("main .govuk-tag")).to_have_text(["Waiting to send"] * 3)
    # The dispatcher delivers to HMRC and HMRC acknowledges: "Check again" shows it, no JavaScript needed.
    _set_state(live_server, "hmrc", NotificationState.ACKNOWLEDGED)
    _set_state(live_server, "dvla", NotificationState.DELIVERED)
    page.get_by_role("link", name="Check again").click()
    expect(page.locator("main .govuk-tag")).to_have_text(["Sent", "Received by the organisation", "Waiting to send"])
    check_accessible(page)
    screenshot(page, "report-tracker")

    page.get_by_role("navigation", name="Menu").get_by_role("link", name="Your changes").click()
    _title(page, "Your changes")
    expect(page.get_by_role("link", name=reference)).to_be_visible()
    check_accessible(page)
    screenshot(page, "your-changes")

    page.get_by_role("navigation", name="Menu").get_by_role("link", name="Who has been told").click()
    _title(page, "Who has been told what")
    check_accessible(page)
    screenshot(page, "who-has-been-told")

    page.get_by_role("navigation", name="Menu").get_by_role("link", name="Your consents").click()
    _title(page, "Your consents")
    check_accessible(page)
    screenshot(page, "your-consents")
    page.get_by_role("link", name="Withdraw (Leeds City Council – Council Tax)").click()
    _title(page, "Withdraw your consent for Leeds City Council – Council Tax")
    assert "1 change waiting to be sent to them will be cancelled" in page.locator(".govuk-warning-text").inner_text()
    check_accessible(page)
    screenshot(page, "consent-withdraw")
    page.get_by_role("button", name="Withdraw consent").click()
    assert "1 change waiting to be sent to them was cancelled" in page.locator(".govuk-notification-banner").inner_text()
    page.get_by_role("link", name="See every consent you have given or withdrawn, with receipts").click()
    _title(page, "Your consent history")
    check_accessible(page)
    screenshot(page, "consent-history")


def test_a_move_can_be_reported_on_a_phone_without_javascript(browser: Any, live_server: Any) -> None:
    make_citizen(live_server.app, "ife@example.com", ni_number="AB123456C")
    context = browser.new_context(java_script_enabled=False, base_url=live_server.url,
                                  viewport={"width": 375, "height": 800})
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        page.goto("/account/sign-in?next=/report/change")
        page.get_by_label("Email address").fill("ife@example.com")
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        _title(page, "What has changed?")
        page.get_by_label("Moving home").check()
        _continue(page)
        _continue(page)  # details from the profile
        page.get_by_label("Address line 1").fill("4 Canal Wharf")
        page.get_by_label("Town or city").fill("Leeds")
        page.get_by_label("Postcode").fill("LS11 5PS")
        _continue(page)
        moved_on = today()
        page.get_by_label("Day").fill(str(moved_on.day))
        page.get_by_label("Month").fill(str(moved_on.month))
        page.get_by_label("Year").fill(str(moved_on.year))
        _continue(page)
        _continue(page)  # previous address: optional
        _continue(page)  # household: optional
        _continue(page)  # protection: optional
        # Without JavaScript every "this time or always" question is on show.
        page.get_by_label("TV Licensing").check()
        page.locator("#consent-tv-licensing").check()
        _continue(page)
        _title(page, "Check your answers before sending")
        page.get_by_role("button", name="Accept and send").click()
        _title(page, "Change reported")
        # (axe-core needs JavaScript; the first test checks every page at 375 px with it.)
        assert page.locator(".govuk-panel__body strong").inner_text().startswith("TUO-")
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
    finally:
        context.close()

