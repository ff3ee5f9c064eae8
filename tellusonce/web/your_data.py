"""Download your data: everything held about the signed-in citizen, as one ZIP file (UK GDPR Art. 15).

The page says what the file holds; the file is built by ``tellusonce.application.data_export``
from the signed-in citizen's own rows only, and each download is an audit event.
"""

from __future__ import annotations

from flask import Blueprint, Response, render_template

from tellusonce.application.data_export import export_archive
from tellusonce.clock import utcnow
from tellusonce.data.audit import record_event
from tellusonce.web.auth import current_citizen, login_required
from tellusonce.web.database import get_session

bp = Blueprint("your_data", __name__, url_prefix="/account")


@bp.get("/your-data")
@login_required
def page() -> str:
    return render_template("account/your_data.html")


@bp.get("/your-data.zip")
@login_required
def download() -> Response:
    citizen = current_citizen()
    assert citizen is not None  # login_required
    now = utcnow()
    session = get_session()
    body = export_archive(session, citizen, now=now)
    record_event(session, actor=f"citizen:{citizen.id}", action="account.data_downloaded", subject_type="citizen",
                 subject_id=citizen.id, details={"bytes": len(body)}, at=now)
    response = Response(body, mimetype="application/zip")
    response.headers["Content-Disposition"] = f'attachment; filename="tellusonce-your-data-{now:%Y-%m-%d}.zip"'
    return response
