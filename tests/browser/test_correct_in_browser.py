"""Correcting a sent report in Chromium, as a person would: from the report's page, change an
answer on its question page, check what each organisation will be told, send the correction and
see it on the report's page. Every page passes axe-core's WCAG 2.2 AA rules at 1280 px and 375 px."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from account_helpers import PASSWORD, make_citizen
from browser_checks import check_accessible, expect_title, screenshot
from sqlalchemy import select, update

from tellusonce.application.intake import ChangeRequest, submit_change
from tellusonce.clock import today, utcnow
from tellusonce.db import transaction
from tellusonce.models import Citizen, Notification, NotificationKind, NotificationState

pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed")
TOLD = ["dvla", "hmrc", "leeds-council-tax"]


def _reported(live_server: Any, citizen: Citizen) -> str:
    """A move told to three organisations; DVLA has been sent it already."""
    with transaction(live_server.engine) as session:
        result = submit_change(session, session.get_one(Citizen, citizen.id), ChangeRequest(
            change_type="address", recipients=TOLD, consent={d: "once" for d in TOLD}, channel="web",
            answers={"address_line_1": "4 Canal Wharf", "town": "Leeds", "postcode": "LS11 5PS",
                     "move_date": today().isoformat()},
            submission_key=uuid.uuid4().hex), now=utcnow())
        session.execute(update(Notification).where(Notification.department_id == "dvla")
                        .values(state=NotificationState.DELIVERED, delivered_at=utcnow(), next_attempt_at=None))
        return result.report.reference


def test_a_person_corrects_a_sent_report_and_sees_who_is_told_what(page: Any, live_server: Any) -> None:
    citizen = make_citizen(live_server.app, "amara@example.com", ni_number="AB123456C",
                           address_line_1="12 Hill Street", town="Leeds", postcode="LS1 1AA")
    reference = _reported(live_server, citizen)
    page.goto(f"/account/sign-in?next=/changes/{reference}")
    page.get_by_label("Email address").fill("amara@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect_title(page, f"Change {reference}")

    page.get_by_role("link", name="Correct this report").click()
    expect_title(page, f"Correct report {reference}")
    check_accessible(page)
    page.locator("#your-answers").get_by_role("link", name="Change new address").click()
    expect_title(page, "What is your new address?")
    check_accessible(page)
    page.get_by_label("Address line 1").fill("5 Canal Wharf")
    page.get_by_role("button", name="Continue").click()

    expect_title(page, f"Correct report {reference}")
    dvla = page.locator("#correction-dvla")
    assert "After it, they will be sent a correction" in dvla.inner_text()
    assert "4 Canal Wharf" in dvla.inner_text() and "5 Canal Wharf" in dvla.inner_text()
    assert "not been sent your report yet" in page.locator("#correction-hmrc").inner_text()
    check_accessible(page)
    screenshot(page, "correct-check")
    page.get_by_role("button", name="Send correction").click()

    expect_title(page, f"Change {reference}")
    assert f"You have corrected report {reference}" in page.locator("main").inner_text()
    assert "Will be sent the correction once they have the report" in page.locator("main").inner_text()
    check_accessible(page)
    with transaction(live_server.engine, writer=False) as session:
        kinds = sorted((n.department_id, n.kind, n.state) for n in session.scalars(select(Notification)))
    assert ("dvla", NotificationKind.CORRECTION, NotificationState.PENDING) in kinds
    assert ("hmrc", NotificationKind.CHANGE, NotificationState.CANCELLED) in kinds  # replaced by the corrected copy
