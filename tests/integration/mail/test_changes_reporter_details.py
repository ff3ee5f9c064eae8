"""An emailed change starts from the account's details as the web does, and confirming it updates them."""

from __future__ import annotations

import re
import uuid

from sqlalchemy import select

from tellusonce.application.intake import ChangeRequest, submit_change
from tellusonce.clock import utcnow
from tellusonce.data.citizens import get_citizen_by_email
from tellusonce.db import transaction
from tellusonce.mailout.render import rendered_bodies
from tellusonce.models import ChangeReport, Citizen, ReportState
from tests.factories import NOW
from tests.integration.mail.messages import MOVE, add_citizen, outgoing, process_all, typed

README_EMAIL = "New address: 5 Park Road, Leeds, LS2 9JT\nDate of move: 1/11/2026\nTell: DVLA, HMRC\n"


def _held(engine) -> ChangeReport:
    with transaction(engine, writer=False) as session:
        return session.scalars(select(ChangeReport).where(ChangeReport.state == ReportState.PENDING_CONFIRMATION)).one()


def _account(engine) -> Citizen:
    with transaction(engine, writer=False) as session:
        citizen = get_citizen_by_email(session, "ada@example.org")
        session.expunge(citizen)
    return citizen


def _on_the_web(engine, change_type: str, answers: dict, recipients: list[str]) -> None:
    """A change sent on the web beforehand, with "update my account" answered yes (the default there)."""
    with transaction(engine) as session:
        citizen = get_citizen_by_email(session, "ada@example.org")
        submit_change(session, citizen, ChangeRequest(
            change_type, answers, recipients, {d: "once" for d in recipients}, "web", uuid.uuid4().hex,
            update_details=True), now=NOW)


def _token(engine) -> str:
    email = [e for e in outgoing(engine) if e.purpose == "mail_confirm_change"][-1]
    return re.search(r"/confirm-email-change/([a-z2-7]+)", rendered_bodies(email)[0]).group(1)


def _held_for_the_page(engine, settings) -> None:
    """Process the mail at the moment the confirmation page will read the clock (its link lasts a day)."""
    process_all(engine, settings, now=utcnow())


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_an_emailed_move_takes_the_accounts_address_as_the_previous_one_as_the_web_does(
        listener, deliver, engine, mail_settings):
    add_citizen(engine)
    deliver(typed(MOVE))
    process_all(engine, mail_settings)
    held = _held(engine)
    assert held.answers["previous_address"] == "12 Hill Street, Leeds"
    assert held.answers["previous_postcode"] == "LS1 1AA"
    [confirm] = outgoing(engine)
    assert "Previous postcode: LS1 1AA" in rendered_bodies(confirm)[0]  # HMRC receives it


def test_an_emailed_change_after_a_change_of_name_uses_the_new_name(listener, deliver, engine, mail_settings):
    add_citizen(engine)
    _on_the_web(engine, "name", {"new_given_names": "Amara", "new_family_name": "Byron", "reason": "marriage",
                                 "change_date": "2026-11-14"}, ["dvla"])
    deliver(typed(MOVE))
    process_all(engine, mail_settings)
    held = _held(engine)
    assert (held.answers["given_names"], held.answers["family_name"]) == ("Amara", "Byron")
    assert "Family name: Byron" in rendered_bodies(outgoing(engine)[-1])[0]


def test_an_emailed_move_after_a_move_on_the_web_starts_from_the_new_address(listener, deliver, engine, mail_settings):
    add_citizen(engine)
    _on_the_web(engine, "address", {"address_line_1": "4 Canal Wharf", "town": "Leeds", "postcode": "LS11 5PS",
                                    "move_date": "2026-10-20"}, ["dvla"])
    deliver(typed(MOVE))
    process_all(engine, mail_settings)
    held = _held(engine)
    assert (held.answers["previous_address"], held.answers["previous_postcode"]) == ("4 Canal Wharf, Leeds", "LS11 5PS")


def test_the_same_move_emailed_after_it_was_sent_on_the_web_is_still_a_duplicate(listener, deliver, engine,
                                                                                 mail_settings):
    add_citizen(engine)
    _on_the_web(engine, "address", {"address_line_1": "5 Park Road", "town": "Leeds", "postcode": "LS2 9JT",
                                    "move_date": "2026-11-01"}, ["dvla"])
    deliver(typed(MOVE))
    [outcome] = process_all(engine, mail_settings)
    assert outcome.reason.startswith("answered: duplicate of TUO-")


def test_the_confirmation_page_asks_whether_to_update_the_account_and_yes_updates_it(
        listener, deliver, engine, mail_settings, client):
    add_citizen(engine)
    deliver(typed(MOVE))
    _held_for_the_page(engine, mail_settings)
    assert "we will also change your address in your account" in rendered_bodies(outgoing(engine)[-1])[0]
    token = _token(engine)
    html = client.get(f"/confirm-email-change/{token}").get_data(as_text=True)
    assert re.search(r'<input[^>]*name="update_details"[^>]*value="yes"[^>]*checked', html)
    assert "Do you want to update your account with these details?" in html
    response = client.post(f"/confirm-email-change/{token}", data={"csrf_token": _csrf(html), "update_details": "yes"})
    assert response.status_code == 303
    account = _account(engine)
    assert (account.address_line_1, account.town, account.postcode) == ("5 Park Road", "Leeds", "LS2 9JT")


def test_answering_no_on_the_confirmation_page_leaves_the_account_as_it_was(
        listener, deliver, engine, mail_settings, client):
    add_citizen(engine)
    deliver(typed(MOVE))
    _held_for_the_page(engine, mail_settings)
    token = _token(engine)
    html = client.get(f"/confirm-email-change/{token}").get_data(as_text=True)
    response = client.post(f"/confirm-email-change/{token}", data={"csrf_token": _csrf(html), "update_details": "no"})
    assert response.status_code == 303
    assert _held_count(engine) == 0
    account = _account(engine)
    assert (account.address_line_1, account.postcode) == ("12 Hill Street", "LS1 1AA")


def _held_count(engine) -> int:
    with transaction(engine, writer=False) as session:
        return len(session.scalars(select(ChangeReport).where(ChangeReport.state == ReportState.PENDING_CONFIRMATION)).all())


def test_confirming_by_reply_updates_the_account_as_the_email_said(listener, deliver, engine, mail_settings):
    add_citizen(engine)
    deliver(typed(MOVE))
    process_all(engine, mail_settings)
    deliver(typed("CONFIRM\n", subject="Re: Confirm"), to=f"confirm+{_token(engine)}@tellusonce.test")
    [outcome] = process_all(engine, mail_settings)
    assert outcome.reason.startswith("confirmed TUO-")
    assert _account(engine).postcode == "LS2 9JT"


def test_the_readme_email_from_an_account_without_details_asks_for_them_and_links_to_your_details(
        listener, deliver, engine, mail_settings):
    add_citizen(engine, given_names=None, family_name=None, date_of_birth=None, ni_number=None,
                address_line_1=None, town=None, postcode=None, phone=None)
    deliver(typed(README_EMAIL, subject="Moving house"))
    [outcome] = process_all(engine, mail_settings)
    assert outcome.reason.startswith("answered:")
    [reply] = outgoing(engine)
    assert reply.purpose == "mail_problems"
    text = rendered_bodies(reply)[0]
    assert "Your account does not have your given names, family name and date of birth yet." in text
    assert f"{mail_settings.base_url}/account/details" in text
    assert "we use the ones in your account" not in text
    assert "Enter given names" not in text  # one explanation, not three demands
    assert "\u201cGiven names: \u2026\u201d" in text and "National Insurance number (optional): " in text


def test_an_account_without_details_can_give_them_in_the_email_and_confirming_keeps_them(
        listener, deliver, engine, mail_settings, client):
    add_citizen(engine, given_names=None, family_name=None, date_of_birth=None, ni_number=None,
                address_line_1=None, town=None, postcode=None, phone=None)
    deliver(typed("Name: Ada Okafor\nDate of birth: 12/4/1988\n" + README_EMAIL, subject="Moving house"))
    [outcome] = process_all(engine, mail_settings, now=utcnow())
    assert outcome.reason.startswith("held as TUO-")
    token = _token(engine)
    html = client.get(f"/confirm-email-change/{token}").get_data(as_text=True)
    assert client.post(f"/confirm-email-change/{token}", data={"csrf_token": _csrf(html)}).status_code == 303
    account = _account(engine)
    assert (account.given_names, account.family_name, account.postcode) == ("Ada", "Okafor", "LS2 9JT")
