"""The journey pages' floor: how fast could any question page's GET be, with the fixed choices?

A bare Flask endpoint (gunicorn "support.journey_floor:floor_app()") doing only what the GET of
``/report/questions/new-address`` cannot do without: Flask's signed session cookie read (the
app's own cookie: the same secret and name), one ``report_journey`` row read by its key and
its citizen's (``tellusonce.data.journeys.load_journey``, one read transaction), a CSRF token for
the form (Flask-WTF), and a GOV.UK page (govuk-frontend-jinja's ``template.html``) with the same
four text inputs rendered through ``govukInput`` every time, each with its answer. No login
check against the citizen's row, no navigation, header or footer macros, no translations, no
security headers, no app logic. The header and footer are left out (the app renders its own once a
process, tellusonce/web/fragments.py). ``journey_pages.py`` times it in turns with the page and the
ceiling ("floor_get").
"""

from __future__ import annotations

import os
import uuid
from typing import Any

PAGE = """{% extends "govuk_frontend_jinja/template.html" %}
{%- from "govuk_frontend_jinja/components/input/macro.html" import govukInput -%}
{%- from "govuk_frontend_jinja/components/button/macro.html" import govukButton -%}
{% block pageTitle %}What is your new address? – Tell us once – GOV.UK{% endblock %}
{% block header %}{% endblock %}
{% block footer %}{% endblock %}
{% block content %}
<form method="post" action="/report/questions/new-address" novalidate>
  <input id="csrf_token" name="csrf_token" type="hidden" value="{{ csrf_token }}">
  <span class="govuk-caption-l">Moving home</span>
  <h1 class="govuk-heading-l">What is your new address?</h1>
  {% for field in fields %}{{ govukInput(field) }}{% endfor %}
  {{ govukButton({'text': "Continue"}) }}
</form>
{% endblock %}
"""
# As report_pages.render_params gives them for the four fields, in English.
FIELDS = (
    ("address_line_1", "Building and street", "address-line1", "govuk-!-width-two-thirds"),
    ("address_line_2", "Building and street line 2 (optional)", "address-line2", "govuk-!-width-two-thirds"),
    ("town", "Town or city", "address-level2", "govuk-!-width-two-thirds"),
    ("postcode", "Postcode", "postal-code", "govuk-input--width-10"),
)


def floor_app() -> Any:
    from flask import Flask, session
    from flask_wtf.csrf import generate_csrf
    from jinja2 import ChoiceLoader, DictLoader, PackageLoader, PrefixLoader

    from tellusonce.clock import utcnow
    from tellusonce.data.journeys import load_journey
    from tellusonce.db import make_engine, session_factory

    readers = session_factory(make_engine(os.environ["TELLUSONCE_DATABASE_URL"]))
    app = Flask("journey_floor")
    app.config.update(SECRET_KEY=os.environ["TELLUSONCE_SECRET_KEY"], SESSION_COOKIE_NAME="tellusonce_session",
                      WTF_CSRF_TIME_LIMIT=None)
    app.jinja_loader = ChoiceLoader([  # type: ignore[assignment]  # as tellusonce/web/app.py sets it
        DictLoader({"page.html": PAGE}), PrefixLoader({"govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja")})])

    @app.get("/report/questions/new-address")
    def page() -> tuple[str, int]:
        citizen_id, journey_id = session.get("citizen_id"), session.get("report_journey")
        if not citizen_id or not journey_id:
            return "", 403
        with readers() as db, db.begin():
            journey = load_journey(db, journey_id, uuid.UUID(citizen_id), now=utcnow())
            answers = dict(journey.state.get("answers", {})) if journey is not None else {}
        fields = [{"id": name, "name": name, "type": "text", "label": {"text": label}, "value": answers.get(name) or "",
                   "classes": classes, "attributes": {"autocomplete": autocomplete}}
                  for name, label, autocomplete, classes in FIELDS]
        return app.jinja_env.get_template("page.html").render(fields=fields, csrf_token=generate_csrf()), 200

    return app

