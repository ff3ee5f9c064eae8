"""Check your answers: the per-organisation preview, dropping a recipient, the declaration, sending once."""

from __future__ import annotations

import uuid

from account_helpers import emails_to, post_form
from flask import Flask
from flask.testing import FlaskClient
from journey_helpers import (
    THREE,
    answer_pages,
    choose,
    count,
    death_pages,
    report_a_move,
    signed_in,
    start_change,
)
from page_checks import check_page, page_title
from sqlalchemy import select

from tellusonce.db import session_factory, transaction
from tellusonce.mailout.render import rendered_bodies
from tellusonce.models import ChangeReport, Citizen, Department, Notification, ReportJourney
from tellusonce.web.database import start_writing
from tests.factories import make_citizen


def _preview(page) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    """Organisation id -> the labels of the details it will receive, as the page shows them."""
    return {
        card["id"].removeprefix("recipient-"): [dt.get_text(strip=True) for dt in card.select(".govuk-summary-list__key")]
        for card in page.select(".govuk-summary-card[id^=recipient-]")
    }


def _registry(app: Flask) -> dict[str, Department]:
    with transaction(app.extensions["tellusonce.engine"], writer=False) as session:
        departments = {d.id: d for d in session.scalars(select(Department))}
        session.expunge_all()
    return departments


def test_the_preview_shows_each_organisation_exactly_the_details_it_will_receive(app: Flask, client: FlaskClient) -> None:
    signed_in(app, client)
    report_a_move(client, submit=False)
    page = check_page(client.get("/report/check"))
    assert page_title(page).startswith("Check your answers before sending")
    preview = _preview(page)
    assert sorted(preview) == sorted(THREE)
    # One row per question it receives whole (a name, an address), one per answer otherwise.
    assert preview == {
        "dvla": ["Name", "Date of birth", "New address", "Date you moved"],
        "hmrc": ["Name", "Date of birth", "National Insurance number", "New address", "Date you moved",
                 "Previous postcode"],
        "leeds-council-tax": ["Name", "New address", "Date you moved", "Previous address",
                              "Others in your household are moving too"],
    }
    registry = _registry(app)
    assert {"previous_postcode"} == {f for f in registry["hmrc"].receives["address"] if f.startswith("previous")}
    assert "National Insurance number" in preview["hmrc"] and "National Insurance number" not in preview["dvla"]
    # Why each is told, and that each one can be dropped.
    card = page.select_one("#recipient-dvla")
    assert "The law says your driving licence" in card.get_text()
    assert card.select_one("form")["action"] == "/report/check/drop/dvla"


def test_a_protected_address_is_withheld_from_organisations_that_do_not_need_it(app: Flask, client: FlaskClient) -> None:
    signed_in(app, client)
    report_a_move(client, recipients=["dvla", "tv-licensing"], submit=False,
                  protect_address={"protected_address": "yes"})
    page = check_page(client.get("/report/check"))
    preview = _preview(page)
    assert "New address" in preview["dvla"]
    assert not {"New address", "Address line 1", "Town or city", "Postcode"} & set(preview["tv-licensing"])
    tv = page.select_one("#recipient-tv-licensing").get_text(" ", strip=True)
    assert "Not sent, because you asked for your new address to be protected: Address line 1" in tv
    assert "told that your address is protected" in tv
    assert post_form(client, "/report/check", {}).status_code == 303
    with transaction(app.extensions["tellusonce.engine"], writer=False) as session:
        payloads = {n.department_id: n.payload for n in session.scalars(select(Notification))}
    assert payloads["tv-licensing"]["protected_address"] is True and "postcode" not in payloads["tv-licensing"]
    assert payloads["dvla"]["postcode"] == "LS11 5PS"


def test_dropping_an_organisation_leaves_it_out_of_the_preview_and_the_report(app: Flask, client: FlaskClient) -> None:
    signed_in(app, client)
    report_a_move(client, submit=False)
    response = post_form(client, "/report/check/drop/hmrc", {}, form_page="/report/check")
    assert response.status_code == 302 and response.location == "/report/check#who-is-told"
    page = check_page(client.get("/report/check"))
    assert sorted(_preview(page)) == ["dvla", "leeds-council-tax"]
    assert "HM Revenue and Customs (HMRC)" in page.get_text()  # listed under "Not being told"
    assert post_form(client, "/report/check", {}).status_code == 303
    with transaction(app.extensions["tellusonce.engine"], writer=False) as session:
        told = sorted(session.scalars(select(Notification.department_id)))
    assert told == ["dvla", "leeds-council-tax"]


def test_dropping_everyone_leaves_nothing_to_send(app: Flask, client: FlaskClient) -> None:
    signed_in(app, client)
    report_a_move(client, recipients=["dvla"], submit=False)
    post_form(client, "/report/check/drop/dvla", {}, form_page="/report/check")
    page = check_page(client.get("/report/check"))
    assert "nothing to send" in page.get_text()
    assert page.select("form[action='/report/check']") == []
    assert count(app, ChangeReport) == 0


def test_sending_writes_the_report_and_its_notifications_and_emails_a_confirmation(app: Flask, client: FlaskClient) -> None:
    citizen = signed_in(app, client)
    response = report_a_move(client)
    assert response.status_code == 303
    reference = response.location.rsplit("/", 1)[1]
    page = check_page(client.get(response.location))
    assert page.select_one(".govuk-panel__body strong").get_text(strip=True) == reference
    assert "Change reported" in page_title(page)
    assert page.select_one(f"a[href='/changes/{reference}']") is not None
    with transaction(app.extensions["tellusonce.engine"], writer=False) as session:
        report = session.scalars(select(ChangeReport)).one()
        told = sorted(session.scalars(select(Notification.department_id).where(Notification.report_id == report.id)))
        assert report.reference == reference and report.channel == "web" and report.citizen_id == citizen.id
    assert told == sorted(THREE)
    [email] = [e for e in emails_to(app, citizen.email) if e.purpose == "report_submitted"]
    assert email.subject == f"Change reported: {reference}"
    text, html = rendered_bodies(email)
    assert reference in text and "Driver and Vehicle Licensing Agency (DVLA)" in text
    assert f"/changes/{reference}" in text and html is not None


def test_sending_without_the_pages_csrf_token_is_refused_and_writes_nothing(app: Flask, client: FlaskClient) -> None:
    signed_in(app, client)
    report_a_move(client, submit=False)
    assert client.post("/report/check", data={}).status_code == 400
    assert client.post("/report/check", data={"csrf_token": "not-the-token"}).status_code == 400
    assert count(app, ChangeReport) == 0
    assert post_form(client, "/report/check", {}).status_code == 303
    assert count(app, ChangeReport) == 1


def test_sending_twice_makes_one_report_and_one_email(app: Flask, client: FlaskClient) -> None:
    citizen = signed_in(app, client)
    report_a_move(client, submit=False)
    token_page = "/report/check"
    from account_helpers import csrf_token

    token = csrf_token(client, token_page)
    first = client.post("/report/check", data={"csrf_token": token})
    second = client.post("/report/check", data={"csrf_token": token})
    assert first.status_code == second.status_code == 303
    assert first.location == second.location
    assert count(app, ChangeReport) == 1 and count(app, Notification) == 3
    assert len([e for e in emails_to(app, citizen.email) if e.purpose == "report_submitted"]) == 1
    # The check page of a sent journey goes to its confirmation.
    assert client.get("/report/check").location == first.location


def test_a_sent_journey_is_deleted_and_remembered_in_the_session(app: Flask, client: FlaskClient) -> None:
    signed_in(app, client)
    report_a_move(client, submit=False)
    with transaction(app.extensions["tellusonce.engine"], writer=False) as session:
        journey_id = session.scalars(select(ReportJourney.id)).one()
    sent = post_form(client, "/report/check", {})
    assert sent.status_code == 303
    assert count(app, ReportJourney) == 0  # the answers are gone with the sending
    with transaction(app.extensions["tellusonce.engine"], writer=False) as session:
        report_id = session.scalars(select(ChangeReport.id)).one()
    with client.session_transaction() as cookie:
        assert cookie["report_journey_sent"] == [journey_id, str(report_id)]
    assert client.get("/report/check").location == sent.location
    # The mark is for that journey alone: a new one is checked and sent afresh.
    report_a_move(client, submit=False)
    with client.session_transaction() as cookie:
        assert "report_journey_sent" not in cookie
        cookie["report_journey_sent"] = [journey_id, str(report_id)]
    assert client.get("/report/check").status_code == 200


def test_reporting_the_same_move_again_is_recognised_as_a_duplicate(app: Flask, client: FlaskClient) -> None:
    signed_in(app, client)
    first = report_a_move(client)
    assert "You have already reported this change" not in check_page(client.get(first.location)).get_text()
    again = report_a_move(client)
    assert again.location == first.location
    page = check_page(client.get(again.location))
    assert "You have already reported this change" in page.get_text()
    assert "We have not sent another email." in page.get_text()
    assert count(app, ChangeReport) == 1


def test_a_death_cannot_be_sent_without_the_declaration_of_authority(app: Flask, client: FlaskClient) -> None:
    signed_in(app, client)
    start_change(client, "death")
    answer_pages(client, death_pages())
    choose(client, ["hmpo"])
    page = check_page(post_form(client, "/report/check", {}), errors=True)
    link = page.select_one(".govuk-error-summary a")
    assert link["href"] == "#authority_declared"
    assert link.get_text(strip=True) == "Confirm you have the authority of the executor or next of kin"
    assert count(app, ChangeReport) == 0
    assert post_form(client, "/report/check", {"authority_declared": "y"}).status_code == 303
    with transaction(app.extensions["tellusonce.engine"], writer=False) as session:
        report = session.scalars(select(ChangeReport)).one()
        assert report.declaration["relationship"] == "executor" and report.declaration["channel"] == "web"
        assert report.subject_person.family_name == "Okafor"


def test_an_answer_that_is_no_longer_valid_sends_the_citizen_back_to_its_page(app: Flask, client: FlaskClient) -> None:
    signed_in(app, client)
    start_change(client, "address")
    # Skipping pages by typing addresses: the check page finds what is missing.
    answer_pages(client, {"your-details": {}})
    choose(client, ["dvla"])
    response = client.get("/report/check")
    assert response.status_code == 302 and response.location == "/report/questions/new-address"


def test_someone_elses_confirmation_page_is_not_found(app: Flask, client: FlaskClient) -> None:
    signed_in(app, client)
    reference = report_a_move(client).location.rsplit("/", 1)[1]
    other = app.test_client()
    signed_in(app, other)
    assert other.get(f"/report/confirmation/{reference}").status_code == 404
    assert other.get(f"/report/confirmation/TUO-{uuid.uuid4().hex[:4].upper()}").status_code == 404


def test_hostile_answers_are_shown_as_text_everywhere(app: Flask, client: FlaskClient) -> None:
    hostile = '<script>alert("x")</script> O\'Brien \u202egnp.exe'
    signed_in(app, client, given_names="Zoë", family_name="O'Brien")
    report_a_move(client, submit=False, new_address={"address_line_1": hostile, "town": "Leeds", "postcode": "LS11 5PS"})
    for response in (client.get("/report/check"),):
        body = response.get_data(as_text=True)
        assert "<script>alert" not in body
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in body
        assert "<bdi>&lt;script&gt;" in body  # the right-to-left override cannot reorder the page around it
    reference = post_form(client, "/report/check", {}).location.rsplit("/", 1)[1]
    with transaction(app.extensions["tellusonce.engine"], writer=False) as session:
        assert session.scalars(select(Notification)).first().payload["address_line_1"] == hostile
    for path in (f"/changes/{reference}", "/changes", f"/report/confirmation/{reference}"):
        assert "<script>alert" not in check_page(client.get(path)).decode()


def test_sending_reads_first_and_still_writes_after_another_writer_committed(app: Flask) -> None:
    engine = app.extensions["tellusonce.engine"]
    with session_factory(engine)() as session:
        assert session.scalars(select(Department)).first() is not None  # the read phase
        with transaction(engine) as other:
            make_citizen(other)
        start_writing(session)
        make_citizen(session)
        session.commit()
    assert count(app, Citizen) == 2
