"""Public pages anyone can read: the start page and health."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template
from sqlalchemy import text

from tellusonce.web.database import get_session

bp = Blueprint("public", __name__)


@bp.get("/")
def home() -> str:
    return render_template("public/home.html")


@bp.get("/healthz")
def healthz():  # type: ignore[no-untyped-def]
    try:
        get_session().execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - any failure means "not healthy"
        return jsonify(status="unavailable", database="unreachable"), 503
    return jsonify(status="ok", database="ok")
