"""A consent receipt's words for people are in the citizen's recorded language; its machine
fields (ids, codes, dates, change types, scope) are the same in either."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from tellusonce.db import transaction
from tellusonce.models import ConsentEvent
from tests.journey_helpers import report_a_move, signed_in

MACHINE = ("version", "event", "jurisdiction", "piiPrincipalId", "changeTypes", "scope", "legalBasis",
           "thirdPartyDisclosure")


def _receipt(app: Flask, department: str) -> dict:
    with transaction(app.extensions["tellusonce.engine"], writer=False) as session:
        return session.scalars(select(ConsentEvent.receipt).where(ConsentEvent.department_id == department)).one()


def test_a_welsh_accounts_receipt_speaks_welsh(app: Flask, client: FlaskClient) -> None:
    signed_in(app, client, language="cy")
    client.get("/language/en?next=/")  # the page's language does not decide it
    report_a_move(client, recipients=["dvla"], consent={"dvla": "always"})
    receipt = _receipt(app, "dvla")
    assert receipt["language"] == "cy"
    assert receipt["recipient"]["name"] == "Yr Asiantaeth Trwyddedu Gyrwyr a Cherbydau (DVLA)"
    assert receipt["recipient"]["id"] == "dvla"
    assert receipt["purpose"].startswith("Yn cadw cofnodion trwyddedau gyrru")
    assert receipt["dataController"]["name"] == "Dweud Wrthym Unwaith"
    assert "Tref neu ddinas" in receipt["dataCategories"]
    assert receipt["duration"]["description"] != "until withdrawn"
    assert "Yr Asiantaeth Trwyddedu Gyrwyr a Cherbydau (DVLA)" in receipt["howToWithdraw"]
    assert receipt["scope"] == "standing" and receipt["changeTypes"] == ["address"]


def test_an_english_accounts_receipt_is_as_before(app: Flask, client: FlaskClient) -> None:
    signed_in(app, client)
    client.get("/language/cy?next=/")
    report_a_move(client, recipients=["dvla"], consent={"dvla": "always"})
    receipt = _receipt(app, "dvla")
    assert receipt["language"] == "en"
    assert receipt["recipient"]["name"] == "Driver and Vehicle Licensing Agency (DVLA)"
    assert receipt["dataController"]["name"] == "Tell us once"
    assert "Town or city" in receipt["dataCategories"]
    assert receipt["duration"]["description"] == "until withdrawn"
