"""Check your answers as the GOV.UK pattern has it: one row per question, one Change link each.

A name is one row; an address is one row whose value has a line per answer.
Each organisation's preview uses the same rows for what it receives.
"""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from journey_helpers import answer_pages, choose, death_pages, report_a_move, signed_in, start_change
from page_checks import check_page

from tellusonce.domain.changetypes import get_change_type
from tellusonce.web.report_pages import pages_for


def _rows(page, selector: str = "#your-answers") -> list[dict]:  # type: ignore[no-untyped-def]
    rows = []
    for row in page.select(f"{selector} .govuk-summary-list__row"):
        value = row.select_one(".govuk-summary-list__value")
        rows.append({
            "key": row.select_one(".govuk-summary-list__key").get_text(strip=True),
            "lines": [line.get_text(strip=True) for line in value.select("bdi")],
            "changes": [a["href"] for a in row.select(".govuk-summary-list__actions a")],
        })
    return rows


def test_a_move_is_checked_with_one_row_per_question_and_the_address_in_one_row(app: Flask, client: FlaskClient) -> None:
    signed_in(app, client, address_line_2="Flat 3")
    report_a_move(client, submit=False, new_address={"address_line_1": "4 Canal Wharf", "address_line_2": "Holbeck",
                                                     "town": "Leeds", "postcode": "LS11 5PS"})
    rows = _rows(check_page(client.get("/report/check")))
    assert [r["key"] for r in rows] == [
        "Name", "Date of birth", "National Insurance number", "New address", "Date you moved", "Previous address",
        "Others in your household are moving too", "Keep my new address protected",
    ]
    by_key = {r["key"]: r for r in rows}
    assert by_key["Name"]["lines"] == ["Ada Lovelace"]
    assert by_key["New address"]["lines"] == ["4 Canal Wharf", "Holbeck", "Leeds", "LS11 5PS"]
    assert by_key["Previous address"]["lines"] == ["12 Hill Street, Flat 3, Leeds", "LS1 1AA"]
    assert all(len(r["changes"]) == 1 for r in rows)
    assert by_key["New address"]["changes"] == ["/report/questions/new-address?from=check"]


def test_every_change_type_has_a_row_for_each_question_and_every_answer_in_one_of_them() -> None:
    for change_type in ("address", "name", "contact", "death", "birth"):
        ct = get_change_type(change_type)
        answers = [a for page in pages_for(change_type) for a in page.answers(ct)]
        shown = [name for a in answers for name in a.fields]
        asked = [name for page in pages_for(change_type) for name in page.fields]
        assert shown == asked, change_type
        assert len(answers) < len(asked), change_type  # names and addresses are one row each


def test_a_death_shows_their_name_and_last_address_as_one_row_each(app: Flask, client: FlaskClient) -> None:
    signed_in(app, client)
    start_change(client, "death")
    answer_pages(client, death_pages(date_of_death={"date_of_death": ["10", "11", "2026"]},
                                     relationship={"reporter_relationship": "child"}))
    choose(client, ["dvla"])
    page = check_page(client.get("/report/check"))
    rows = {r["key"]: r for r in _rows(page)}
    assert rows["Their name"]["lines"] == ["Grace Okafor"]
    assert rows["Their last address"]["lines"] == ["7 Elm Road", "Leeds", "LS6 2AB"]
    assert rows["Your name"]["lines"] == ["Ada Lovelace"]
    assert len(rows) == 9


def test_an_organisation_given_a_whole_address_sees_it_as_one_row(app: Flask, client: FlaskClient) -> None:
    signed_in(app, client)
    report_a_move(client, submit=False, recipients=["dvla"])
    rows = {r["key"]: r["lines"] for r in _rows(check_page(client.get("/report/check")), "#recipient-dvla")}
    assert rows["New address"] == ["4 Canal Wharf", "Leeds", "LS11 5PS"]
    assert rows["Name"] == ["Ada Lovelace"]
    assert "Address line 1" not in rows and "Postcode" not in rows
