"""Following your changes on the narrowest phone (320 px): nothing scrolls sideways.

"Who has been told", "Your changes" and a report's page show each item as a
summary card, not a table wider than the screen.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from account_helpers import PASSWORD, make_citizen
from browser_checks import check_accessible, check_fits, expect_title, screenshot
from sqlalchemy import update

from tellusonce.application.intake import ChangeRequest, submit_change
from tellusonce.clock import today, utcnow
from tellusonce.db import transaction
from tellusonce.models import Citizen, Notification, NotificationState
from tests.factories import death_answers

pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed")


def _report(live_server: Any, citizen: Citizen, change_type: str, answers: dict[str, Any], recipients: list[str]) -> str:
    with transaction(live_server.engine) as session:
        me = session.get_one(Citizen, citizen.id)
        result = submit_change(session, me, ChangeRequest(
            change_type=change_type, answers=answers, recipients=recipients,
            consent={d: "once" for d in recipients}, channel="web", submission_key=uuid.uuid4().hex,
        ), now=utcnow())
        reference = result.report.reference
        session.execute(update(Notification).where(Notification.department_id != "dwp")
                        .values(state=NotificationState.DELIVERED, delivered_at=utcnow()))
    return reference


def test_following_changes_fits_a_320_pixel_phone(page: Any, live_server: Any) -> None:
    citizen = make_citizen(live_server.app, "femi@example.com", ni_number="AB123456C", address_line_1="12 Hill Street",
                           town="Leeds", postcode="LS1 1AA")
    move = _report(live_server, citizen, "address", {"address_line_1": "Flat 14, Riverside Apartments, 4 Canal Wharf",
                                                      "town": "Leeds", "postcode": "LS11 5PS",
                                                      "move_date": today().isoformat()},
                   ["dvla", "hmrc", "dwp", "leeds-council-tax"])
    _report(live_server, citizen, "death", {**death_answers(), "reporter_given_names": "Femi",
                                            "reporter_family_name": "Okafor"}, ["dwp", "hmrc"])
    page.set_viewport_size({"width": 320, "height": 900})
    page.goto("/account/sign-in?next=/who-has-been-told")
    page.get_by_label("Email address").fill("femi@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    expect_title(page, "Who has been told what")
    check_fits(page, 320)
    check_accessible(page, widths=(320,))
    screenshot(page, "who-has-been-told-phone", width=320)
    page.goto("/changes")
    expect_title(page, "Your changes")
    check_fits(page, 320)
    check_accessible(page, widths=(320,))
    page.goto(f"/changes/{move}")
    expect_title(page, f"Change {move}")
    check_fits(page, 320)
    check_accessible(page, widths=(320,))
    screenshot(page, "report-tracker-phone", width=320)
