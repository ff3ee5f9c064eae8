"""Your consents: what each organisation may receive; grant, limit, withdraw; history; receipts."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from urllib.parse import urlsplit

from account_helpers import post_form
from flask import Flask
from flask.testing import FlaskClient
from journey_helpers import date_parts, signed_in, submitted_report
from jsonschema import Draft202012Validator
from page_checks import check_page, page_title
from sqlalchemy import select

from tellusonce.application.consent import grant_consent
from tellusonce.clock import utcnow
from tellusonce.data.departments import get_department
from tellusonce.db import transaction
from tellusonce.models import ConsentEvent, ConsentGrant, Notification, NotificationState


def _grant(app: Flask, citizen_id: uuid.UUID, department_id: str, change_types: list[str]) -> None:
    with transaction(app.extensions["tellusonce.engine"]) as session:
        grant_consent(session, citizen_id=citizen_id, department=get_department(session, department_id),
                      change_types=change_types, now=utcnow() - timedelta(minutes=5))


def _grants(app: Flask, department_id: str) -> list[ConsentGrant]:
    with transaction(app.extensions["tellusonce.engine"], writer=False) as session:
        grants = list(session.scalars(select(ConsentGrant).where(ConsentGrant.department_id == department_id)
                                      .order_by(ConsentGrant.granted_at)))
        session.expunge_all()
    return grants


def _states(app: Flask) -> dict[tuple[str, str], str]:
    with transaction(app.extensions["tellusonce.engine"], writer=False) as session:
        return {(n.department_id, n.change_type): n.state for n in session.scalars(select(Notification))}


def test_the_consents_page_shows_every_organisation_and_what_it_may_receive(app: Flask, client: FlaskClient) -> None:
    citizen = signed_in(app, client)
    _grant(app, citizen.id, "dvla", ["address", "name"])
    page = check_page(client.get("/consents"))
    assert page_title(page).startswith("Your consents")
    cards = {c["id"].removeprefix("consent-"): c for c in page.select(".govuk-summary-card")}
    assert len(cards) == 8
    dvla = cards["dvla"].get_text(" ", strip=True)
    assert "Moving home: Given names, Family name, Date of birth, Address line 1" in dvla
    assert "Change of name:" in dvla
    assert cards["dvla"].find("a", href="/consents/dvla/withdraw") is not None
    assert "Nothing. They are only told when you say so" in cards["hmrc"].get_text()
    assert cards["hmrc"].find("a", href="/consents/hmrc/withdraw") is None


def test_standing_consent_can_be_given_for_some_changes_until_a_date(app: Flask, client: FlaskClient) -> None:
    signed_in(app, client)
    page = check_page(client.get("/consents/hmrc/change"))
    assert [i["value"] for i in page.select("input[name=change_types]")] == ["address", "name", "contact", "death", "birth"]
    end = (utcnow() + timedelta(days=60)).date()
    response = post_form(client, "/consents/hmrc/change", {"change_types": ["address", "contact"], "until": date_parts(end)})
    assert response.status_code == 302 and response.location == "/consents"
    [grant] = _grants(app, "hmrc")
    assert grant.change_types == ["address", "contact"] and grant.scope == "standing"
    assert grant.expires_at is not None and grant.expires_at > utcnow() + timedelta(days=59)
    page = check_page(client.get("/consents"))
    assert "HM Revenue and Customs (HMRC) may now always be told about: moving home, new contact details." in page.get_text()
    assert "Until the end of" in page.select_one("#consent-hmrc").get_text()
    # The form shows the consent as it now stands.
    page = check_page(client.get("/consents/hmrc/change"))
    assert sorted(i["value"] for i in page.select("input[name=change_types]") if i.has_attr("checked")) == ["address", "contact"]
    assert page.select_one("#until-year")["value"] == str(end.year)


def test_consent_cannot_end_in_the_past_or_cover_nothing(app: Flask, client: FlaskClient) -> None:
    signed_in(app, client)
    past = (utcnow() - timedelta(days=2)).date()
    response = post_form(client, "/consents/hmrc/change", {"change_types": ["address"], "until": date_parts(past)})
    page = check_page(response, errors=True)
    assert page.select_one(".govuk-error-summary a")["href"] == "#until"
    page = check_page(post_form(client, "/consents/hmrc/change", {}), errors=True)
    assert page.select_one(".govuk-error-summary a")["href"] == "#change_types"
    assert check_page(post_form(client, "/consents/hmpo/change", {"change_types": ["address"]}), errors=True)
    assert _grants(app, "hmrc") == [] and _grants(app, "hmpo") == []


def test_limiting_consent_warns_what_it_cancels_and_keeps_what_is_still_allowed(app: Flask, client: FlaskClient) -> None:
    citizen = signed_in(app, client)
    _grant(app, citizen.id, "hmrc", ["address", "contact"])
    submitted_report(app, citizen, recipients=["hmrc"], consent={})
    with transaction(app.extensions["tellusonce.engine"]) as session:
        from tellusonce.application.intake import ChangeRequest, submit_change
        from tellusonce.models import Citizen

        submit_change(session, session.get_one(Citizen, citizen.id), ChangeRequest(
            change_type="contact", answers={"email": "new@example.org"}, recipients=["hmrc"], consent={},
            submission_key="contact-1"), now=utcnow())
    assert _states(app) == {("hmrc", "address"): "pending", ("hmrc", "contact"): "pending"}
    page = check_page(post_form(client, "/consents/hmrc/change", {"change_types": ["address"]}))
    assert "1 change waiting to be sent to them will be cancelled" in page.select_one(".govuk-warning-text").get_text()
    assert _states(app) == {("hmrc", "address"): "pending", ("hmrc", "contact"): "pending"}
    hidden = {i["name"]: i.get("value") for i in page.select("form input[type=hidden]")}
    assert hidden["confirm"] == "yes" and hidden["change_types"] == "address"
    response = post_form(client, "/consents/hmrc/change", {"change_types": ["address"], "until": ["", "", ""], "confirm": "yes"})
    assert response.status_code == 302
    assert _states(app) == {("hmrc", "address"): "pending", ("hmrc", "contact"): "cancelled"}
    old, new = _grants(app, "hmrc")
    assert old.withdrawn_at is not None and new.withdrawn_at is None and new.change_types == ["address"]
    with transaction(app.extensions["tellusonce.engine"], writer=False) as session:
        address = session.scalars(select(Notification).where(Notification.change_type == "address")).one()
        assert address.consent_receipt_id == new.receipt_id  # sent under the consent that now allows it
    assert "1 change waiting to be sent to them was cancelled." in check_page(client.get("/consents")).get_text()


def test_withdrawing_warns_how_many_waiting_changes_it_cancels_then_cancels_them(app: Flask, client: FlaskClient) -> None:
    citizen = signed_in(app, client)
    report = submitted_report(app, citizen, recipients=["dvla", "hmrc"])
    page = check_page(client.get("/consents/dvla/withdraw"))
    assert "1 change waiting to be sent to them will be cancelled" in page.select_one(".govuk-warning-text").get_text()
    response = post_form(client, "/consents/dvla/withdraw", {})
    assert response.status_code == 302 and response.location == "/consents"
    assert _states(app) == {("dvla", "address"): NotificationState.CANCELLED, ("hmrc", "address"): NotificationState.PENDING}
    page = check_page(client.get("/consents"))
    assert "You have withdrawn your consent for Driver and Vehicle Licensing Agency (DVLA). 1 change waiting" in page.get_text()
    page = check_page(client.get(f"/changes/{report.reference}"))
    assert "Cancelled" in page.get_text()
    # Nothing left to withdraw.
    page = check_page(client.get("/consents/dvla/withdraw"))
    assert "nothing to withdraw" in page.get_text() and page.select("form button.govuk-button--warning") == []


def test_the_history_lists_every_consent_event_with_a_receipt_to_download(app: Flask, client: FlaskClient) -> None:
    citizen = signed_in(app, client)
    report = submitted_report(app, citizen, recipients=["dvla"])
    post_form(client, "/consents/dvla/withdraw", {})
    page = check_page(client.get("/consents/history"))
    rows = [[td.get_text(" ", strip=True) for td in tr.select("td")] for tr in page.select("tbody tr")]
    assert [r[2] for r in rows] == ["Withdrawn", "Given"]
    assert rows[1][4] == f"This report only: {report.reference}"
    link = page.select("tbody tr a")[1]["href"]
    response = client.get(link)
    assert response.mimetype == "application/json" and response.headers["Content-Disposition"].startswith("attachment")
    receipt = json.loads(response.get_data(as_text=True))
    assert receipt["recipient"]["id"] == "dvla" and receipt["event"] == "granted" and receipt["howToWithdraw"]
    with transaction(app.extensions["tellusonce.engine"], writer=False) as session:
        granted = session.scalars(select(ConsentEvent.receipt_id).where(ConsentEvent.kind == "granted")).one()
    assert str(granted) == receipt["receiptId"]


def test_another_citizens_receipt_is_not_found(app: Flask, client: FlaskClient) -> None:
    owner = app.test_client()
    submitted_report(app, signed_in(app, owner), recipients=["dvla"])
    with transaction(app.extensions["tellusonce.engine"], writer=False) as session:
        receipt_id = session.scalars(select(ConsentEvent.receipt_id)).one()
    assert owner.get(f"/consents/receipts/{receipt_id}.json").status_code == 200
    signed_in(app, client)
    assert client.get(f"/consents/receipts/{receipt_id}.json").status_code == 404
    assert client.get("/consents/receipts/not-a-uuid.json").status_code == 404
    assert client.get(f"/consents/receipts/{uuid.uuid4()}.json").status_code == 404


def test_an_unknown_organisation_is_not_found(app: Flask, client: FlaskClient) -> None:
    signed_in(app, client)
    assert client.get("/consents/nobody/change").status_code == 404
    assert client.get("/consents/nobody/withdraw").status_code == 404


def test_every_receipt_validates_against_the_receipt_schema_it_names(app: Flask, client: FlaskClient) -> None:
    citizen = signed_in(app, client)
    _grant(app, citizen.id, "hmrc", ["address", "contact"])  # standing, until withdrawn
    submitted_report(app, citizen, recipients=["dvla"])  # this report only
    post_form(client, "/consents/hmrc/withdraw", {})
    page = check_page(client.get("/consents/history"))
    links = [a["href"] for a in page.select("tbody tr a")]
    assert len(links) == 3
    base_url = app.config["SETTINGS"].base_url
    for link in links:
        receipt = json.loads(client.get(link).get_data(as_text=True))
        assert receipt["schema"] == f"{base_url}/schemas/consent-receipt.v1.json"
        response = client.get(urlsplit(receipt["schema"]).path)
        assert response.status_code == 200 and response.mimetype == "application/schema+json"
        schema = json.loads(response.get_data(as_text=True))
        Draft202012Validator.check_schema(schema)
        assert schema["$id"] == receipt["schema"]
        validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
        assert [e.message for e in validator.iter_errors(receipt)] == [], receipt["event"]
