"""Accounts in Chromium, as a person uses them: with JavaScript, and without it."""

from __future__ import annotations

import re
from typing import Any

import pytest
from browser_checks import check_accessible, expect_title, screenshot

PASSWORD = "correct horse battery staple"


def _register_and_confirm(page: Any, email: str, *, check: bool = False) -> None:
    page.goto("/account/create")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Create a password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect_title(page, "Check your email")
    if check:
        check_accessible(page)
    page.get_by_role("link", name="Read the email in the demo mailbox").click()
    expect_title(page, "Demo mailbox")
    if check:
        check_accessible(page)
        screenshot(page, "demo-mailbox")
    page.get_by_role("link", name="Confirm your email address").first.click()
    page.wait_for_url(re.compile(r"/dev/mail/[0-9a-f-]{36}$"))
    if check:
        check_accessible(page)
    page.get_by_role("link", name="/account/verify/").click()
    expect_title(page, "Confirm your email address")
    if check:
        check_accessible(page)
    page.get_by_role("button", name="Confirm email address").click()
    expect_title(page, "Your details")


def test_a_person_creates_an_account_confirms_it_from_the_demo_mailbox_and_fills_in_details(page: Any) -> None:
    _register_and_confirm(page, "grace@example.com", check=True)
    check_accessible(page)
    page.get_by_label("Given names").fill("Grace")
    page.get_by_label("Family name").fill("Hopper")
    page.get_by_label("Day").fill("9")
    page.get_by_label("Month").fill("12")
    page.get_by_label("Year").fill("1906")
    page.get_by_label("Postcode").fill("AB1 CDE")
    page.get_by_role("button", name="Save your details").click()

    expect_title(page, "Error: Your details")
    check_accessible(page)
    screenshot(page, "your-details-error")
    # The error summary links to the field, and the field keeps what was typed.
    page.get_by_role("link", name="Enter a real postcode, like LS1 1AA").click()
    assert page.evaluate("document.activeElement.id") == "postcode"
    page.get_by_label("Postcode").fill("ls1 1aa")
    page.get_by_role("button", name="Save your details").click()
    expect_title(page, "Your details")
    assert page.get_by_label("Postcode").input_value() == "LS1 1AA"
    assert page.get_by_label("Given names").input_value() == "Grace"
    screenshot(page, "your-details")

    nav = page.get_by_role("navigation", name="Menu")
    assert nav.get_by_role("link", name="Your details").is_visible()
    nav.get_by_role("button", name="Sign out").click()
    expect_title(page, "You have signed out")
    check_accessible(page)
    page.goto("/account/details")
    expect_title(page, "Sign in")


def test_signing_in_with_the_wrong_password_shows_the_error_summary(page: Any, live_server: Any) -> None:
    page.goto("/account/sign-in")
    page.get_by_label("Email address").fill("nobody@example.com")
    page.get_by_label("Password", exact=True).fill("wrong password here")
    page.get_by_role("button", name="Sign in").click()
    expect_title(page, "Error: Sign in")
    check_accessible(page)
    screenshot(page, "sign-in-error")


def test_a_form_sent_after_the_session_was_lost_says_so_and_offers_a_way_back(page: Any) -> None:
    page.goto("/account/reset-password")
    page.context.clear_cookies()
    page.get_by_label("Email address").fill("grace@example.com")
    page.get_by_role("button", name="Send reset link").click()
    expect_title(page, "Your session has expired")
    check_accessible(page)
    page.get_by_role("link", name="Go back to the page and try again").click()
    expect_title(page, "Reset your password")


@pytest.fixture
def page_without_javascript(browser: Any, live_server: Any) -> Any:
    context = browser.new_context(java_script_enabled=False, base_url=live_server.url,
                                  viewport={"width": 375, "height": 800})
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def test_accounts_work_without_javascript_on_a_phone(page_without_javascript: Any) -> None:
    page = page_without_javascript
    _register_and_confirm(page, "ada@example.com")
    # Without JavaScript the menu is not collapsed, so sign-out is right there.
    page.get_by_role("button", name="Sign out").click()
    expect_title(page, "You have signed out")
    page.goto("/account/sign-in")
    page.get_by_label("Email address").fill("ada@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect_title(page, "Tell public services")
    page.goto("/account/details")
    expect_title(page, "Your details")
