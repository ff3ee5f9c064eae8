"""Closing an account in Chromium: from Your details, through the warning, to the done page, signed out."""

from __future__ import annotations

import re
from typing import Any

from browser_checks import check_accessible, expect_title

PASSWORD = "correct horse battery staple"


def _account(page: Any, email: str) -> None:
    page.goto("/account/create")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Create a password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect_title(page, "Check your email")
    page.get_by_role("link", name="Read the email in the demo mailbox").click()
    page.get_by_role("link", name="Confirm your email address").first.click()
    page.wait_for_url(re.compile(r"/dev/mail/[0-9a-f-]{36}$"))
    page.get_by_role("link", name="/account/verify/").click()
    page.get_by_role("button", name="Confirm email address").click()
    expect_title(page, "Your details")


def test_a_person_closes_their_account_and_cannot_sign_in_to_it_again(page: Any) -> None:
    _account(page, "lin@example.com")
    page.get_by_role("link", name="Close your account").click()
    expect_title(page, "Close your account")
    check_accessible(page)
    page.get_by_role("button", name="Close your account").click()
    expect_title(page, "Error: Close your account")
    check_accessible(page)
    page.get_by_role("link", name="Enter your password").click()
    assert page.evaluate("document.activeElement.id") == "password"
    page.get_by_label("Your password").fill(PASSWORD)
    page.get_by_role("button", name="Close your account").click()
    expect_title(page, "Your account is closed")
    check_accessible(page)
    assert page.get_by_role("button", name="Sign out").count() == 0
    page.goto("/account/sign-in")
    page.get_by_label("Email address").fill("lin@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect_title(page, "Error: Sign in")
