"""What every page must pass in a real browser, and screenshots for the docs.

    from browser_checks import check_accessible, screenshot
    page.goto("/organisations")
    check_accessible(page)              # axe-core WCAG 2.2 AA at 1280 px and 375 px, no sideways scroll
    check_fits(page, 320)               # nothing scrolls sideways at 320 px, not even a table's own box
    expect_title(page, "Your details")  # after a click that navigates
    screenshot(page, "organisations")   # docs/screenshots/organisations.png

axe-core comes from node_modules (the version package.json pins, installed by
``make setup``), or else the copy axe-playwright-python ships.
"""

from __future__ import annotations

import os
import re
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

from tellusonce.settings import PROJECT_ROOT

# Screenshots for the docs are written only when asked (`TELLUSONCE_SCREENSHOTS=1 make test`),
# so that an ordinary test run leaves the working tree as it found it.
SCREENSHOTS = (
    PROJECT_ROOT / "docs" / "screenshots"
    if os.environ.get("TELLUSONCE_SCREENSHOTS")
    else Path(tempfile.gettempdir()) / "tellusonce-screenshots"
)
NODE_AXE = PROJECT_ROOT / "node_modules" / "axe-core" / "axe.min.js"
WIDTHS = (1280, 375)
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


@lru_cache(maxsize=1)
def _axe() -> Any:
    from axe_playwright_python.sync_playwright import Axe

    return Axe.from_file(NODE_AXE) if NODE_AXE.exists() else Axe()


def expect_title(page: Any, start: str) -> None:
    """Wait (up to the page's timeout) for a page whose title starts with ``start``.

    Use it after a click that navigates: ``page.title()`` straight after a click can
    still be the empty title of a page that is loading.
    """
    from playwright.sync_api import expect

    expect(page).to_have_title(re.compile("^" + re.escape(start)))


def axe_violations(page: Any) -> list[dict[str, Any]]:
    options = {"runOnly": {"type": "tag", "values": WCAG_TAGS}, "resultTypes": ["violations"]}
    results = _axe().run(page, options=options)
    return list(results.response["violations"])


def _describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        targets = ", ".join(" ".join(node["target"]) for node in v["nodes"][:5])
        lines.append(f"{v['id']} ({v['impact']}): {v['help']} — {targets}")
    return "\n".join(lines)


def horizontal_overflow(page: Any) -> int:
    """How many pixels the page is wider than the window (0: no sideways scrolling)."""
    return int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))


def page_fits(page: Any) -> str:
    """What scrolls sideways at the window's width ("" when nothing): the page wider than its
    viewport (``document.documentElement.scrollWidth > clientWidth``) or than the window."""
    wide = page.evaluate("""() => ({scroll: document.documentElement.scrollWidth,
        client: document.documentElement.clientWidth, window: window.innerWidth})""")
    if wide["scroll"] > wide["client"] or wide["scroll"] > wide["window"]:
        return (f"the page scrolls sideways: {wide['scroll']} px wide in a viewport of {wide['client']} px "
                f"(window {wide['window']} px)")
    return ""


def boxes_scrolling_sideways(page: Any) -> list[str]:
    """Elements whose own content scrolls sideways (a wide table in a scrolling box): on a phone
    that hides half of what they show as surely as the page scrolling does."""
    return list(page.evaluate("""() => [...document.querySelectorAll('body *')]
        .filter(e => ['auto', 'scroll'].includes(getComputedStyle(e).overflowX) && e.scrollWidth > e.clientWidth + 1)
        .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className ? '.' + [...e.classList].join('.') : ''))"""))


def check_fits(page: Any, width: int) -> None:
    """At ``width`` px nothing scrolls sideways: neither the page nor any box on it."""
    original = page.viewport_size
    try:
        page.set_viewport_size({"width": width, "height": 900})
        problems = []
        if (overflow := horizontal_overflow(page)) > 0:
            problems.append(f"the page scrolls sideways by {overflow} px")
        if boxes := boxes_scrolling_sideways(page):
            problems.append(f"these scroll sideways: {', '.join(boxes)}")
    finally:
        page.set_viewport_size(original)
    assert not problems, f"at {width} px on {page.url}: " + "; ".join(problems)


def check_accessible(page: Any, *, widths: tuple[int, ...] = WIDTHS) -> None:
    """axe-core's WCAG 2.2 AA rules pass, and nothing scrolls sideways, at each width."""
    original = page.viewport_size
    problems = []
    try:
        for width in widths:
            page.set_viewport_size({"width": width, "height": 900})
            violations = axe_violations(page)
            if violations:
                problems.append(f"at {width} px on {page.url}:\n{_describe(violations)}")
            if overflow := page_fits(page):
                problems.append(f"at {width} px on {page.url}: {overflow}")
    finally:
        page.set_viewport_size(original)
    assert not problems, "\n".join(problems)


def screenshot(page: Any, name: str, *, width: int = 1280, full_page: bool = True) -> Path:
    """Save a screenshot for the docs (the whole page, or only the first screenful)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    original = page.viewport_size
    page.set_viewport_size({"width": width, "height": 900})
    path = SCREENSHOTS / f"{name}.png"
    try:
        page.screenshot(path=str(path), full_page=full_page, animations="disabled")
    finally:
        page.set_viewport_size(original)
    return path
