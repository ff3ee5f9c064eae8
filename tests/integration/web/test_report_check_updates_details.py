"""A change about the reporter, sent on the web, puts its new details on their account (when they say so)."""

from __future__ import annotations

from typing import Any

from account_helpers import post_form
from flask import Flask
from flask.testing import FlaskClient
from journey_helpers import (
    THREE,
    answer_pages,
    choose,
    date_parts,
    death_pages,
    move_answers,
    prefilled,
    report_a_move,
    signed_in,
    start_change,
)
from page_checks import check_page
from sqlalchemy import select

from tellusonce.clock import today
from tellusonce.db import transaction
from tellusonce.models import AuditEvent, ChangeReport, Citizen, Notification

SECOND_HOME = {"address_line_1": "9 Mill Lane", "town": "Otley", "postcode": "LS21 1AB"}


def _sent(app: Flask, reference_path: str) -> dict[str, dict[str, Any]]:
    """Department id -> the payload queued for it, for the report the confirmation page names."""
    reference = reference_path.rstrip("/").rsplit("/", 1)[-1]
    with transaction(app.extensions["tellusonce.engine"], writer=False) as session:
        report = session.scalars(select(ChangeReport).where(ChangeReport.reference == reference)).one()
        return {n.department_id: dict(n.payload)
                for n in session.scalars(select(Notification).where(Notification.report_id == report.id))}


def _account(app: Flask, citizen: Citizen) -> Citizen:
    with transaction(app.extensions["tellusonce.engine"], writer=False) as session:
        me = session.get_one(Citizen, citizen.id)
        session.expunge(me)
    return me


def _change_name(client: FlaskClient, **check: str) -> Any:
    start_change(client, "name")
    answer_pages(client, {
        "your-details": {}, "new-name": {"new_given_names": "Ada", "new_family_name": "Byron"},
        "reason": {"reason": "marriage"}, "change-date": {"change_date": date_parts(today())},
    })
    choose(client, ["dvla", "hmrc"])
    return post_form(client, "/report/check", check)


def test_check_your_answers_asks_whether_to_update_the_account_with_yes_chosen(app: Flask, client: FlaskClient) -> None:
    signed_in(app, client)
    report_a_move(client, submit=False)
    page = check_page(client.get("/report/check"))
    radios = page.select("form[action='/report/check'] input[name=update_details]")
    assert [(r["value"], r.has_attr("checked")) for r in radios] == [("yes", True), ("no", False)]
    question = page.select_one("form[action='/report/check'] fieldset").get_text(" ", strip=True)
    assert "Do you want to update your account with these details?" in question
    assert "address" in question


def test_a_death_does_not_ask_to_update_the_account(app: Flask, client: FlaskClient) -> None:
    signed_in(app, client)
    start_change(client, "death")
    answer_pages(client, death_pages())
    choose(client, ["hmpo"])
    assert not check_page(client.get("/report/check")).select("input[name=update_details]")


def test_a_second_move_starts_from_the_first_moves_new_address_and_sends_it_as_the_previous_one(
        app: Flask, client: FlaskClient) -> None:
    citizen = signed_in(app, client)
    first = report_a_move(client)
    assert _sent(app, first.location)["leeds-council-tax"]["previous_postcode"] == "LS1 1AA"  # the account's address
    start_change(client, "address")
    answer_pages(client, {"your-details": {}, "new-address": SECOND_HOME})
    assert prefilled(client, "/report/questions/previous-address") == {
        "previous_address": "4 Canal Wharf, Leeds", "previous_postcode": "LS11 5PS"}
    answer_pages(client, {slug: answers for slug, answers in move_answers().items()
                          if slug not in ("your-details", "new-address")})
    choose(client, THREE)
    second = post_form(client, "/report/check", {})
    council = _sent(app, second.location)["leeds-council-tax"]
    assert council["previous_address"] == "4 Canal Wharf, Leeds" and council["previous_postcode"] == "LS11 5PS"
    assert council["address_line_1"] == "9 Mill Lane"
    account = _account(app, citizen)
    assert (account.address_line_1, account.town, account.postcode) == ("9 Mill Lane", "Otley", "LS21 1AB")


def test_a_move_after_a_change_of_name_is_sent_with_the_new_name(app: Flask, client: FlaskClient) -> None:
    citizen = signed_in(app, client)
    assert _change_name(client).status_code == 303
    start_change(client, "address")
    assert prefilled(client, "/report/questions/your-details")["family_name"] == "Byron"
    moved = report_a_move(client, recipients=["dvla"])
    sent = _sent(app, moved.location)["dvla"]
    assert (sent["given_names"], sent["family_name"]) == ("Ada", "Byron")
    account = _account(app, citizen)
    assert (account.given_names, account.family_name) == ("Ada", "Byron")


def test_answering_no_leaves_the_account_as_it_was(app: Flask, client: FlaskClient) -> None:
    citizen = signed_in(app, client)
    assert report_a_move(client, submit=False).status_code == 302
    assert post_form(client, "/report/check", {"update_details": "no"}).status_code == 303
    account = _account(app, citizen)
    assert (account.address_line_1, account.postcode) == ("12 Hill Street", "LS1 1AA")
    assert _change_name(client, update_details="no").status_code == 303
    account = _account(app, citizen)
    assert (account.given_names, account.family_name) == ("Ada", "Lovelace")
    assert _audited_updates(app) == [[], []]


def _audited_updates(app: Flask) -> list[list[str]]:
    """For each report submitted, the account details its audit event says it updated."""
    with transaction(app.extensions["tellusonce.engine"], writer=False) as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.action == "report.submitted")
                                 .order_by(AuditEvent.id)).all()
    return [event.details["account_updated"] for event in events]


def test_updating_the_account_is_audited_by_the_names_of_the_details_only(app: Flask, client: FlaskClient) -> None:
    signed_in(app, client)
    report_a_move(client)
    # town stays Leeds, and there is no line 2 before or after: only what changed, by name
    assert _audited_updates(app) == [["address_line_1", "postcode"]]


def test_an_answer_other_than_yes_or_no_is_refused_with_a_message(app: Flask, client: FlaskClient) -> None:
    signed_in(app, client)
    report_a_move(client, submit=False)
    page = check_page(post_form(client, "/report/check", {"update_details": "maybe"}), errors=True)
    link = page.select_one(".govuk-error-summary a")
    assert link["href"] == "#update_details"
    assert link.get_text(strip=True) == "Select yes if you want us to update your account with these details"


def test_a_previous_address_cleared_on_the_web_is_left_out_not_filled_from_the_account(
        app: Flask, client: FlaskClient) -> None:
    signed_in(app, client)
    moved = report_a_move(client, previous_address={"previous_address": "", "previous_postcode": ""})
    council = _sent(app, moved.location)["leeds-council-tax"]
    assert "previous_address" not in council and "previous_postcode" not in council
