"""The public pages in Chromium: accessible at desktop and phone widths, and screenshotted."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from browser_checks import check_accessible, screenshot

PAGES = [
    ("/", "home"),
    ("/organisations", "organisations"),
    ("/schemas/", None),
    ("/accessibility", None),
    ("/privacy", None),
    ("/cookies", None),
    ("/account/create", "create-account"),
    ("/account/sign-in", "sign-in"),
    ("/account/reset-password", None),
    ("/dev/mail/", None),
    ("/no-such-page", None),
]


@pytest.mark.parametrize(("path", "shot"), PAGES)
def test_public_page_passes_axe_at_desktop_and_phone_widths(page: Any, path: str, shot: str | None) -> None:
    page.goto(path)
    assert page.title().endswith("– Tell us once – GOV.UK")
    check_accessible(page)
    if shot:
        # The register is long: its first screenful shows what it is.
        screenshot(page, shot, full_page=shot != "organisations")


def test_the_start_button_starts_the_service(page: Any) -> None:
    page.goto("/")
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="Start now").click()
    assert navigation.value.ok
    assert urlsplit(page.url).path != "/"
    assert "Page not found" not in page.title()


def test_the_service_navigation_collapses_into_a_menu_on_a_phone(page: Any) -> None:
    page.set_viewport_size({"width": 375, "height": 800})
    page.goto("/")
    sign_in = page.get_by_role("navigation", name="Menu").get_by_role("link", name="Sign in")
    assert not sign_in.is_visible()
    page.get_by_role("button", name="Menu").click()
    assert sign_in.is_visible()
