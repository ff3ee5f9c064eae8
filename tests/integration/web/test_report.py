"""Reporting a change on the web, page by page: start, choose, questions, organisations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from account_helpers import post_form
from flask import Flask
from flask.testing import FlaskClient
from journey_helpers import (
    answer_pages,
    choose,
    date_parts,
    move_answers,
    prefilled,
    report_a_move,
    signed_in,
    start_change,
    written_rows,
)
from page_checks import check_page, page_title

from tellusonce.application.consent import grant_consent
from tellusonce.clock import today, utcnow
from tellusonce.data.departments import departments_for_change_type, get_department
from tellusonce.db import transaction
from tellusonce.domain.changetypes import CHANGE_TYPES
from tellusonce.web.report_pages import PAGES


def test_the_start_page_explains_the_service_and_who_can_be_told(client: FlaskClient) -> None:
    page = check_page(client.get("/report"))
    text = page.get_text(" ")
    assert "Report a change" in page_title(page)
    assert "Driver and Vehicle Licensing Agency (DVLA)" in text and "TV Licensing" in text
    assert page.select_one("a.govuk-button--start")["href"] == "/report/change"


def test_choosing_a_change_needs_a_signed_in_citizen(client: FlaskClient) -> None:
    response = client.get("/report/change")
    assert response.status_code == 302
    assert response.location.startswith("/account/sign-in?next=/report/change")


def test_the_change_page_offers_every_change_type_and_refuses_no_answer(app: Flask, client: FlaskClient) -> None:
    signed_in(app, client)
    page = check_page(client.get("/report/change"))
    assert [i["value"] for i in page.select("input[name=change_type]")] == list(CHANGE_TYPES)
    page = check_page(post_form(client, "/report/change", {}), errors=True)
    assert page_title(page).startswith("Error: What has changed?")
    assert page.select_one(".govuk-error-summary a")["href"] == "#change_type"


def test_a_form_posted_without_its_csrf_token_is_refused(app: Flask, client: FlaskClient) -> None:
    signed_in(app, client)
    assert client.post("/report/change", data={"change_type": "address"}).status_code == 400


def test_question_pages_are_filled_in_from_the_profile(app: Flask, client: FlaskClient) -> None:
    signed_in(app, client, given_names="Ada", family_name="Lovelace")
    start_change(client, "address")
    values = prefilled(client, "/report/questions/your-details")
    assert values["given_names"] == "Ada" and values["ni_number"] == "AB123456C"
    assert values["date_of_birth"] == ["27", "03", "1985"]
    # Where they lived until now is the address on their account.
    values = prefilled(client, "/report/questions/previous-address")
    assert values == {"previous_address": "12 Hill Street, Leeds", "previous_postcode": "LS1 1AA"}


def test_every_question_page_is_a_well_formed_page_with_a_back_link(app: Flask, client: FlaskClient) -> None:
    signed_in(app, client)
    for change_type, pages in PAGES.items():
        start_change(client, change_type)
        previous = "/report/change"
        for page_def in pages:
            page = check_page(client.get(f"/report/questions/{page_def.slug}"))
            assert page.select_one(".govuk-back-link")["href"] == previous
            assert page.find("h1") is not None
            previous = f"/report/questions/{page_def.slug}"


def test_a_wrong_postcode_is_shown_on_its_field_in_the_govuk_error_style(app: Flask, client: FlaskClient) -> None:
    signed_in(app, client)
    start_change(client, "address")
    response = post_form(client, "/report/questions/new-address",
                         {"address_line_1": "4 Canal Wharf", "town": "", "postcode": "QQ1 1QQ"})
    page = check_page(response, errors=True)
    assert page_title(page) == "Error: What is your new address? – Tell us once – GOV.UK"
    links = {a["href"]: a.get_text(strip=True) for a in page.select(".govuk-error-summary a")}
    assert links == {"#town": "Enter town or city", "#postcode": "Enter a real postcode, like LS1 1AA"}
    assert "Enter a real postcode" in page.select_one("#postcode-error").get_text()
    # What was typed stays on the page.
    assert page.select_one("#postcode")["value"] == "QQ1 1QQ"


def test_an_incomplete_date_says_which_part_is_missing(app: Flask, client: FlaskClient) -> None:
    signed_in(app, client)
    start_change(client, "address")
    page = check_page(post_form(client, "/report/questions/move-date", {"move_date": ["12", "", "2026"]}), errors=True)
    assert page.select_one(".govuk-error-summary").get_text(" ", strip=True).endswith("Date you moved must include a month")


def test_a_move_date_too_far_ahead_shows_the_domains_rule(app: Flask, client: FlaskClient) -> None:
    signed_in(app, client)
    start_change(client, "address")
    later = today() + timedelta(weeks=14)
    page = check_page(post_form(client, "/report/questions/move-date", {"move_date": date_parts(later)}), errors=True)
    assert "Date you moved must be no more than 3 months in the future" in page.select_one(".govuk-error-summary").get_text()
    assert page.select_one(".govuk-error-summary a")["href"] == "#move_date"


def test_the_organisations_page_lists_everyone_who_handles_the_change_with_their_purpose(app: Flask, client: FlaskClient) -> None:
    signed_in(app, client)
    start_change(client, "contact")
    answer_pages(client, {"your-details": {}, "new-contact": {"phone": "0113 496 0000"}})
    page = check_page(client.get("/report/organisations"))
    offered = [i["value"] for i in page.select("input[name=recipients]")]
    with transaction(app.extensions["tellusonce.engine"], writer=False) as session:
        assert offered == [d.id for d in departments_for_change_type(session, "contact")]
    assert offered == ["dwp", "hmrc", "meadow-lane-surgery"]  # the others do not deal with contact details
    assert "To reach you about your tax and Child Benefit." in page.get_text()
    assert not any(i.has_attr("checked") for i in page.select("input[name=recipients]"))


def test_standing_consent_starts_ticked_and_is_not_asked_for_again(app: Flask, client: FlaskClient) -> None:
    citizen = signed_in(app, client)
    with transaction(app.extensions["tellusonce.engine"]) as session:
        grant_consent(session, citizen_id=citizen.id, department=get_department(session, "dwp"),
                      change_types=["address"], now=utcnow() - timedelta(days=1))
    start_change(client, "address")
    answer_pages(client, move_answers())
    page = check_page(client.get("/report/organisations"))
    ticked = [i["value"] for i in page.select("input[name=recipients]") if i.has_attr("checked")]
    assert ticked == ["dwp"]
    assert page.select("input[name=consent-dwp]") == [] and page.select("input[name=consent-dvla]")
    assert choose(client, ["dwp"], {}).location == "/report/check"


def test_an_organisation_chosen_without_consent_needs_once_or_always(app: Flask, client: FlaskClient) -> None:
    signed_in(app, client)
    report_a_move(client, recipients=["dvla"], submit=False)
    page = check_page(choose(client, ["dvla", "hmrc"], {"dvla": "always"}), errors=True)
    error = page.select_one(".govuk-error-summary a")
    assert error["href"] == "#consent-hmrc"
    assert error.get_text(strip=True) == "Select whether HM Revenue and Customs (HMRC) may be told this time only or always"
    page = check_page(choose(client, [], {}), errors=True)
    assert page.select_one(".govuk-error-summary a")["href"] == "#recipients"
    assert choose(client, ["dvla", "not-a-department"], {"dvla": "once"}).status_code == 200


def test_nothing_is_written_to_the_database_before_the_final_step(app: Flask, client: FlaskClient) -> None:
    signed_in(app, client)
    report_a_move(client, submit=False)
    check_page(client.get("/report/check"))
    assert written_rows(app) == {"ChangeReport": 0, "Notification": 0, "ConsentGrant": 0}


def test_changing_an_answer_from_the_check_page_comes_back_to_it(app: Flask, client: FlaskClient) -> None:
    signed_in(app, client)
    report_a_move(client, submit=False)
    page = check_page(client.get("/report/check"))
    change = next(a["href"] for a in page.select(".govuk-summary-list__actions a") if "new-address" in a["href"])
    assert change == "/report/questions/new-address?from=check"
    assert check_page(client.get(change)).select_one(".govuk-back-link")["href"] == "/report/check"
    response = post_form(client, change, {"address_line_1": "9 Dock Street", "town": "Leeds", "postcode": "LS10 1JF"})
    assert response.location == "/report/check"
    assert "9 Dock Street" in check_page(client.get("/report/check")).get_text()


def test_without_a_journey_the_pages_send_the_citizen_to_start_again(app: Flask, client: FlaskClient) -> None:
    signed_in(app, client)
    for path in ("/report/questions/new-address", "/report/organisations", "/report/check"):
        response = client.get(path)
        assert response.status_code == 302 and response.location == "/report/change"
    assert "We could not find your answers" in check_page(client.get("/report/change")).get_text()


def test_an_unknown_question_page_is_404(app: Flask, client: FlaskClient) -> None:
    signed_in(app, client)
    start_change(client, "contact")
    assert client.get("/report/questions/new-address").status_code == 404


def test_choosing_another_change_starts_a_new_journey_and_the_same_one_keeps_the_answers(app: Flask, client: FlaskClient) -> None:
    signed_in(app, client)
    start_change(client, "address")
    answer_pages(client, {"your-details": {}, "new-address": move_answers()["new-address"]})
    start_change(client, "address")
    assert prefilled(client, "/report/questions/new-address")["address_line_1"] == "4 Canal Wharf"
    start_change(client, "contact")
    start_change(client, "address")
    assert prefilled(client, "/report/questions/new-address")["address_line_1"] == ""


def test_every_kind_of_change_can_be_reported_from_start_to_finish(app: Flask, client: FlaskClient) -> None:
    signed_in(app, client)
    on_the_day = date_parts(today())
    journeys = {
        "name": ({"your-details": {}, "new-name": {"new_given_names": "Ada", "new_family_name": "King"},
                  "reason": {"reason": "deed_poll"}, "change-date": {"change_date": on_the_day}}, ["hmpo"]),
        "contact": ({"your-details": {}, "new-contact": {"email": "new@example.org"}}, ["hmrc"]),
        "death": ({"person": {"deceased_given_names": "Grace", "deceased_family_name": "Okafor",
                              "deceased_date_of_birth": ["3", "2", "1941"]},
                   "date-of-death": {"date_of_death": on_the_day},
                   "their-address": {"deceased_address_line_1": "7 Elm Road", "deceased_town": "Leeds",
                                     "deceased_postcode": "LS6 2AB"},
                   "about-you": {}, "relationship": {"reporter_relationship": "child"}}, ["hmpo", "dwp"]),
        "birth": ({"child": {"child_given_names": "Ife", "child_family_name": "Okafor", "child_date_of_birth": on_the_day},
                   "parents": {"parent_1_given_names": "Amara", "parent_1_family_name": "Okafor"},
                   "child-address": {"address_line_1": "4 Canal Wharf", "town": "Leeds", "postcode": "LS11 5PS"},
                   "about-you": {}, "relationship": {"reporter_relationship": "mother"}}, ["hmrc"]),
    }
    for change_type, (pages, recipients) in journeys.items():
        start_change(client, change_type)
        answer_pages(client, pages)
        assert choose(client, recipients).location == "/report/check"
        declaration = {"authority_declared": "y"} if CHANGE_TYPES[change_type].about_someone_else else {}
        response = post_form(client, "/report/check", declaration)
        assert response.status_code == 303, change_type
        page = check_page(client.get(response.location))
        assert page.select_one(".govuk-panel__title").get_text(strip=True) == "Change reported"
    page = check_page(client.get("/changes"))
    assert len(page.select(".govuk-summary-card")) == 4


def test_a_date_page_posted_without_its_boxes_asks_for_the_date(app: Flask, client: FlaskClient) -> None:
    signed_in(app, client)
    start_change(client, "address")
    page = check_page(post_form(client, "/report/questions/move-date", {}), errors=True)
    assert page.select_one(".govuk-error-summary a").get_text(strip=True) == "Enter the date you moved"
    assert [i["value"] for i in page.select("input[name=move_date]")] == ["", "", ""]



def test_today_is_not_in_the_future_in_the_hour_after_midnight_in_summer_time(app: Flask, client: FlaskClient,
                                                                             clock) -> None:
    clock.move_to(datetime(2026, 6, 30, 23, 30, tzinfo=UTC))  # 00:30 on 1 July in London
    signed_in(app, client)
    start_change(client, "birth")
    answer_pages(client, {"child": {"child_given_names": "Ife", "child_family_name": "Okafor",
                                    "child_date_of_birth": ["1", "7", "2026"]},
                          "parents": {"parent_1_given_names": "Amara", "parent_1_family_name": "Okafor"},
                          "child-address": {"address_line_1": "4 Canal Wharf", "town": "Leeds", "postcode": "LS11 5PS"},
                          "about-you": {}, "relationship": {"reporter_relationship": "mother"}})
    assert choose(client, ["hmrc"]).location == "/report/check"
    assert post_form(client, "/report/check", {"authority_declared": "y"}).status_code == 303
    assert written_rows(app)["ChangeReport"] == 1
