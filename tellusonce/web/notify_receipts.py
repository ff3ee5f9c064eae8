"""``POST /notify/receipts``: GOV.UK Notify's delivery receipts for the email it sent for us.

Notify posts a JSON receipt with ``Authorization: Bearer <token>``, the token configured on its
callbacks page and here as ``TELLUSONCE_NOTIFY_CALLBACK_TOKEN`` (compared in constant time). No
cookies, so no CSRF token: the bearer token is the proof. The answers:

- 200 ``{"result": "recorded" | "already recorded" | "superseded"}``: taken (the same receipt
  again is 200 and changes nothing, so Notify's retries are harmless);
- 400: not JSON, or not a receipt (what is wrong is said); nothing is written;
- 401: no token or the wrong one; nothing is read or written;
- 404: a receipt for no email of ours (Notify does not retry a 4xx), or receipts not configured.
"""

from __future__ import annotations

import hmac
import json
import logging

from flask import Blueprint, Response, current_app, jsonify, request

from tellusonce.application.mail_receipts import ReceiptInvalid, ReceiptOutcome, read_receipt, record_receipt
from tellusonce.clock import utcnow
from tellusonce.extensions import csrf
from tellusonce.settings import Settings
from tellusonce.web.database import get_session

log = logging.getLogger(__name__)

bp = Blueprint("notify_receipts", __name__, url_prefix="/notify")
csrf.exempt(bp)


def _answer(status: int, **body: str) -> Response:
    response = jsonify(status=status, **body)
    response.status_code = status
    return response


@bp.post("/receipts")
def receipts() -> Response:
    settings: Settings = current_app.config["SETTINGS"]
    token = settings.notify_callback_token
    if not token:
        return _answer(404, error="Not found.")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        log.warning("notify receipt refused: bad or missing bearer token", extra={"event": "notify_receipt_refused"})
        response = _answer(401, error="Send the callback bearer token: Authorization: Bearer <token>.")
        response.headers["WWW-Authenticate"] = 'Bearer realm="notify-receipts"'
        return response
    try:
        receipt = read_receipt(json.loads(request.get_data(cache=False)))
    except (ValueError, UnicodeDecodeError) as e:  # json.JSONDecodeError and ReceiptInvalid are ValueErrors
        message = str(e) if isinstance(e, ReceiptInvalid) else "the body is not JSON"
        return _answer(400, error=f"Not a delivery receipt: {message}.")
    outcome = record_receipt(get_session(), receipt, now=utcnow())
    log.info("notify receipt %s: %s", outcome, receipt.status,
             extra={"event": "notify_receipt", "provider_id": receipt.provider_id})
    if outcome == ReceiptOutcome.UNKNOWN:
        return _answer(404, error="No email of this service has that reference or id.")
    return _answer(200, result=str(outcome))
