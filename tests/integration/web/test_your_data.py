"""Download your data: the page, the file, and that only the signed-in citizen gets theirs."""

from __future__ import annotations

import io
import json
import zipfile

from flask import Flask
from flask.testing import FlaskClient
from journey_helpers import signed_in, submitted_report
from page_checks import check_page

from tellusonce.models import AuditEvent
from tests.journey_helpers import count


def test_your_details_links_to_the_page_that_says_what_the_file_holds(app: Flask, client: FlaskClient) -> None:
    signed_in(app, client)
    details = client.get("/account/details").get_data(as_text=True)
    assert 'href="/account/your-data"' in details
    page = check_page(client.get("/account/your-data"))
    assert page.h1.get_text() == "Download your data"
    assert page.find("a", class_="govuk-button")["href"] == "/account/your-data.zip"


def test_the_file_holds_the_citizens_reports_and_the_download_is_recorded(app: Flask, client: FlaskClient) -> None:
    citizen = signed_in(app, client)
    report = submitted_report(app, citizen)
    response = client.get("/account/your-data.zip")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="tellusonce-your-data-')
    assert response.headers["Cache-Control"] == "no-store"
    data = json.loads(zipfile.ZipFile(io.BytesIO(response.data)).read("data.json"))
    assert [r["reference"] for r in data["reports"]] == [report.reference]
    assert count(app, AuditEvent, action="account.data_downloaded") == 1


def test_signed_out_there_is_no_file_and_another_citizens_reports_are_not_in_yours(
        app: Flask, client: FlaskClient) -> None:
    for path in ("/account/your-data", "/account/your-data.zip"):
        response = client.get(path)
        assert response.status_code == 302 and "/account/sign-in" in response.location
    other = app.test_client()
    theirs = submitted_report(app, signed_in(app, other), line="99 Secret Lane")
    signed_in(app, client)
    body = client.get("/account/your-data.zip").data
    archive = zipfile.ZipFile(io.BytesIO(body))
    assert theirs.reference.encode() not in archive.read("data.json")
    assert b"Secret Lane" not in archive.read("data.json")
