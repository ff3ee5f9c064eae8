"""Every main page in Welsh and in English, in Chromium, at 1280 px and 375 px: axe-core's WCAG
2.2 AA rules pass and no page scrolls sideways (Welsh words are longer).

The pages: the public ones signed out, then signed in every question page of every change type
(from the change-type catalogue, so a new one is checked here), who to tell, check your answers,
the confirmation, your changes, a change's page and its correct and cancel pages, who has been
told, your consents (changing and withdrawing one, their history), and every page of your account. With ``TELLUSONCE_SCREENSHOTS=1`` (``make screenshots``) the Welsh pages at 1280 px
are saved for the docs as docs/screenshots/cy-<name>.png.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlsplit

import pytest
from account_helpers import PASSWORD, make_citizen
from babel.support import Translations
from browser_checks import axe_violations, page_fits, screenshot

from tellusonce.application.intake import ChangeRequest, submit_change
from tellusonce.clock import today, utcnow
from tellusonce.db import transaction
from tellusonce.models import Citizen
from tellusonce.web.language import COOKIE
from tellusonce.web.report_pages import PAGES
from tests.catalogues import TRANSLATIONS
from tests.factories import address_answers

pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed")

PUBLIC = ["/", "/organisations", "/schemas/", "/accessibility", "/privacy", "/cookies", "/account/create",
          "/account/sign-in", "/account/reset-password", "/no-such-page"]
# The Welsh screenshots for the docs: the page, by name.
SHOTS = {"/": "start", "/report/questions/new-address": "question", "/report/check": "check-answers",
         "confirmation": "confirmation", "/changes": "your-changes", "/consents": "your-consents"}


def _words(language: str, message: str) -> str:
    """A button's words in ``language``, from the catalogue the page uses."""
    return Translations.load(str(TRANSLATIONS), [language]).gettext(message)


class Checker:
    """Reads pages in one language at one width; collects what fails rather than stopping at the first."""

    def __init__(self, page: Any, language: str, width: int) -> None:
        self.page, self.language, self.width = page, language, width
        self.problems: list[str] = []
        page.set_viewport_size({"width": width, "height": 900})

    def check(self, name: str) -> None:
        lang = self.page.evaluate("document.documentElement.lang")
        if lang != self.language:
            self.problems.append(f"{name}: the page is lang={lang!r}")
        for v in axe_violations(self.page):
            targets = ", ".join(" ".join(n["target"]) for n in v["nodes"][:3])
            self.problems.append(f"{name}: {v['id']} ({v['impact']}): {v['help']} — {targets}")
        if overflow := page_fits(self.page):
            self.problems.append(f"{name}: {overflow}")
        shot = SHOTS.get(name)
        if shot and self.language == "cy" and self.width == 1280:
            screenshot(self.page, f"cy-{shot}", full_page=True)

    def visit(self, path: str) -> None:
        self.page.goto(path)
        if (landed := urlsplit(self.page.url).path) != urlsplit(path).path:  # a redirect: another page read
            self.problems.append(f"{path}: went to {landed}")
        self.check(path)

    def submit(self, message: str = "Continue") -> None:
        with self.page.expect_navigation():
            self.page.locator("main form[method=post] button[type=submit]", has_text=_words(self.language, message)
                              ).last.click()


def _sign_in(page: Any, email: str) -> None:
    page.goto("/account/sign-in")
    page.locator("#email").fill(email)
    page.locator("#password").fill(PASSWORD)
    with page.expect_navigation():
        page.locator("main form button[type=submit]").click()


def _reported(live_server: Any, citizen: Citizen) -> str:
    with transaction(live_server.engine) as session:
        me = session.get_one(Citizen, citizen.id)
        return submit_change(session, me, ChangeRequest(
            change_type="address", answers=address_answers(), recipients=["dvla", "hmrc"],
            consent={"dvla": "always", "hmrc": "once"}, channel="web", submission_key=uuid.uuid4().hex,
        ), now=utcnow()).report.reference


@pytest.mark.parametrize("width", [1280, 375])
@pytest.mark.parametrize("language", ["cy", "en"])
def test_every_main_page_passes_axe_and_fits_the_width_in_both_languages(
        page: Any, live_server: Any, language: str, width: int) -> None:
    page.context.add_cookies([{"name": COOKIE, "value": language, "url": live_server.url}])
    checker = Checker(page, language, width)
    for path in PUBLIC:
        checker.visit(path)

    citizen = make_citizen(live_server.app, "elin@example.com", ni_number="AB123456C", address_line_1="12 Hill Street",
                           town="Leeds", postcode="LS1 1AA")
    reference = _reported(live_server, citizen)
    _sign_in(page, "elin@example.com")
    checker.visit("/report")
    for change_type, pages in PAGES.items():
        checker.visit("/report/change")
        page.locator(f"input[name=change_type][value={change_type}]").check()
        checker.submit()
        for question in pages:
            checker.visit(f"/report/questions/{question.slug}")

    # A move answered through to "check your answers", with one page sent wrong first, and sent.
    checker.visit("/report/change")
    page.locator("input[name=change_type][value=address]").check()
    checker.submit()
    checker.visit("/report/questions/your-details")
    checker.submit()
    page.locator("#address_line_1").fill("Fflat 14, Fflatiau Glan yr Afon, 4 Glanfa’r Gamlas")
    page.locator("#town").fill("Llanfairpwllgwyngyll")
    page.locator("#postcode").fill("QQ1 1QQ")
    checker.submit()
    checker.check("/report/questions/new-address (error)")
    page.locator("#postcode").fill("LL61 5UJ")
    checker.submit()
    moved = today()
    for part, value in (("day", moved.day), ("month", moved.month), ("year", moved.year)):
        page.locator(f"#move_date-{part}").fill(str(value))
    checker.submit()
    for _ in ("previous-address", "household", "protect-address"):
        checker.submit()
    checker.check("/report/organisations")
    page.locator("input[name=recipients][value=tv-licensing]").check()
    page.locator("#consent-tv-licensing").check()
    checker.submit()
    checker.check("/report/check")
    checker.submit("Accept and send")
    checker.check("confirmation")

    for path in ("/changes", f"/changes/{reference}", f"/changes/{reference}/correct", f"/changes/{reference}/cancel",
                 "/who-has-been-told", "/consents", "/consents/history", "/consents/dvla/change",
                 "/consents/dvla/withdraw", "/account/details", "/account/details/email", "/account/details/password",
                 "/account/details/report-emails", "/account/sign-ins", "/account/your-data", "/account/close"):
        checker.visit(path)
    assert not checker.problems, f"in {language} at {width} px:\n" + "\n".join(checker.problems)
