"""Public pages anyone can read: the start page, the open register, the schemas,
and the accessibility statement, privacy notice and cookies page."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, render_template
from flask_babel import gettext as _

from tellusonce.data.departments import list_departments
from tellusonce.domain.changetypes import CHANGE_TYPES, ChangeType
from tellusonce.domain.consent import RECEIPT_SCHEMA_NAME, receipt_json_schema
from tellusonce.domain.event_schemas import (
    account_closed_data_schema,
    cancellation_data_schema,
    correction_data_schema,
    event_data_schema,
)
from tellusonce.models import Department
from tellusonce.web import language
from tellusonce.web.database import get_session
from tellusonce.web.retention_schedule import retention_rows

bp = Blueprint("public", __name__)


@bp.get("/")
def home() -> str:
    departments = list_departments(get_session())
    return render_template("public/home.html", change_types=CHANGE_TYPES.values(), departments=departments)


def _base_url() -> str:
    return current_app.config["SETTINGS"].base_url


def register_entry(department: Department) -> dict[str, Any]:
    """One organisation on the open register: what it receives for each change and why."""
    base_url = _base_url()
    receives = []
    for type_id, change_type in CHANGE_TYPES.items():
        if type_id not in department.receives:
            continue
        names = department.fields_for(type_id)
        receives.append(
            {
                "change_type": type_id,
                "label": _(change_type.label),
                "fields": [{"name": n, "label": _(change_type.field(n).label)} for n in names],
                "reason": department.reasons.get(type_id, ""),
                "schema": change_type.event_schema_url(base_url),
                "change_schema": change_type.schema_url(base_url),
            }
        )
    return {
        "id": department.id,
        "name": department.name,
        "controller": department.controller,
        "purpose": department.purpose,
        "name_cy": department.name_cy,
        "purpose_cy": department.purpose_cy,
        # As the organisation states them (None: it states none): the record of recipients.
        "lawful_basis": department.lawful_basis,
        "lawful_basis_cy": department.lawful_basis_cy,
        "retention": department.retention,
        "retention_cy": department.retention_cy,
        "contact_url": department.contact_url,
        "channel": department.channel,
        "receives_protected_address": department.needs_protected_address,
        "receives_language": department.receives_language,
        "receives": receives,
    }


@bp.get("/organisations")
def organisations() -> str:
    entries = [register_entry(d) for d in list_departments(get_session())]
    return render_template("public/organisations.html", organisations=entries)


@bp.get("/organisations.json")
def organisations_json() -> Response:
    entries = [register_entry(d) for d in list_departments(get_session())]
    return jsonify(organisations=entries)


@bp.get("/schemas/")
def schemas() -> str:
    return render_template("public/schemas.html", change_types=CHANGE_TYPES.values())


def _schema_response(schema: dict[str, Any]) -> Response:
    body = json.dumps(schema, indent=2, ensure_ascii=False)
    response = current_app.response_class(body + "\n", mimetype="application/schema+json")
    response.headers["Cache-Control"] = "public, max-age=3600"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.get("/schemas/<type_id>.json")
def schema(type_id: str) -> Response:
    """A change as a citizen submits it."""
    change_type = _change_type(type_id)
    return _schema_response(change_type.json_schema(_base_url()))


@bp.get("/schemas/events/account.closed.v1.json")
def account_closed_schema() -> Response:
    """The data of an account-closed event (each such event's dataschema)."""
    return _schema_response(account_closed_data_schema(base_url=_base_url()))


def _change_type(type_id: str) -> ChangeType:
    """The change type a schema's URL names; 404 for none."""
    change_type = CHANGE_TYPES.get(type_id)
    if change_type is None:
        abort(404)
    return change_type


@bp.get("/schemas/events/<type_id>.v1.json")
def event_schema(type_id: str) -> Response:
    """The data of an event, as the organisations in the registry are sent it (each event's dataschema)."""
    change_type = _change_type(type_id)
    departments = list_departments(get_session())
    return _schema_response(event_data_schema(change_type, departments, base_url=_base_url()))


@bp.get("/schemas/events/<type_id>.cancelled.v1.json")
def cancellation_schema(type_id: str) -> Response:
    """The data of a cancellation event (each such event's dataschema)."""
    change_type = _change_type(type_id)
    return _schema_response(cancellation_data_schema(change_type, base_url=_base_url()))


@bp.get("/schemas/events/<type_id>.corrected.v1.json")
def correction_schema(type_id: str) -> Response:
    """The data of a correction event (each such event's dataschema)."""
    change_type = _change_type(type_id)
    departments = list_departments(get_session())
    return _schema_response(correction_data_schema(change_type, departments, base_url=_base_url()))


@bp.get(f"/schemas/{RECEIPT_SCHEMA_NAME}")
def receipt_schema() -> Response:
    """A consent receipt, as a citizen downloads it."""
    return _schema_response(receipt_json_schema(_base_url()))


@bp.get("/accessibility")
def accessibility() -> str:
    return render_template("public/accessibility.html")


@bp.get("/privacy")
def privacy() -> str:
    departments = list_departments(get_session())
    schedule = current_app.config["RETENTION"]
    return render_template("public/privacy.html", departments=departments,
                           retention=retention_rows(schedule, language.page_language()))


@bp.get("/cookies")
def cookies() -> str:
    return render_template("public/cookies.html", cookie_name=current_app.config["SESSION_COOKIE_NAME"],
                           language_cookie=language.COOKIE)
