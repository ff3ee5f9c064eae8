"""A citizen's download of everything held about them: what is in it, and that nothing else is."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from tellusonce.application.data_export import FORMAT, export_archive
from tellusonce.application.intake import ChangeRequest, submit_change
from tellusonce.data.audit import record_event
from tellusonce.mailout.queue import queue_email
from tellusonce.models import Citizen, DeliveryAttempt, InboundMessage, InboundStatus, Notification, NotificationState
from tests.factories import NOW, address_answers, death_answers, make_citizen


def _report(session: Session, citizen: Citizen, change_type: str, answers: dict[str, Any], recipients: list[str]):
    return submit_change(session, citizen, ChangeRequest(
        change_type=change_type, answers=answers, recipients=recipients, consent={d: "once" for d in recipients},
        channel="web", submission_key=uuid.uuid4().hex), now=NOW).report


def _inbound(session: Session, sender: str, body: bytes, report_id: uuid.UUID | None = None) -> InboundMessage:
    raw = b"From: " + sender.encode() + b"\r\nTo: changes@tellusonce.test\r\nSubject: Moving\r\n\r\n" + body
    message = InboundMessage(received_at=NOW, peer="127.0.0.1", mail_from=sender, rcpt_tos=["changes@tellusonce.test"],
                             raw=raw, size=len(raw), status=InboundStatus.PROCESSED, from_address=sender,
                             subject="Moving", report_id=report_id)
    session.add(message)
    session.flush()
    return message


def _opened(body: bytes) -> tuple[zipfile.ZipFile, dict[str, Any]]:
    archive = zipfile.ZipFile(io.BytesIO(body))
    return archive, json.loads(archive.read("data.json"))


def test_the_download_holds_every_kind_of_data_about_the_citizen(db_session: Session) -> None:
    ada = make_citizen(db_session, email="ada@example.org", ni_number="AB123456C")
    move = _report(db_session, ada, "address", address_answers(), ["dvla", "hmrc"])
    _report(db_session, ada, "death", death_answers(), ["dwp"])
    dvla = db_session.query(Notification).filter_by(report_id=move.id, department_id="dvla").one()
    dvla.state, dvla.delivered_at = NotificationState.DELIVERED, NOW + timedelta(minutes=1)
    db_session.add(DeliveryAttempt(notification_id=dvla.id, number=1, worker="w", started_at=NOW, finished_at=NOW,
                                   outcome="delivered", status_code=200, latency_ms=12))
    queue_email(db_session, to=ada.email, subject="Change reported", template="verify_email",
                context={"link": "https://x.test/v", "hours": 1}, purpose="verify", related_id=ada.id)
    sent = _inbound(db_session, "ada@example.org", b"Change: moving house\r\n", report_id=move.id)
    record_event(db_session, actor=f"citizen:{ada.id}", action="account.signed_in", subject_type="citizen",
                 subject_id=ada.id)

    archive, data = _opened(export_archive(db_session, ada, now=NOW))

    assert data["format"] == FORMAT
    assert data["account"]["email"] == "ada@example.org" and data["account"]["ni_number"] == "AB123456C"
    [moved, died] = sorted(data["reports"], key=lambda r: r["change_type"])
    assert moved["answers"]["postcode"] == address_answers()["postcode"]
    told = {o["organisation"]["id"]: o for o in moved["organisations"]}
    assert set(told) == {"dvla", "hmrc"}
    assert told["dvla"]["state"] == "delivered" and told["dvla"]["delivered_at"] is not None
    assert told["dvla"]["details_sent_or_to_send"] == dvla.payload
    assert [a["status_code"] for a in told["dvla"]["delivery_attempts"]] == [200]
    assert died["about_person_id"] == data["people_you_reported_about"][0]["id"]
    receipts = {c["receipt_id"] for c in data["consents"]}
    assert {o["consent_receipt_id"] for o in moved["organisations"]} <= receipts
    assert all(c["events"] and c["events"][0]["receipt"] for c in data["consents"])
    assert [m["purpose"] for m in data["emails_sent_to_you"]] == ["verify"]
    [mine] = data["emails_you_sent"]
    assert mine["report_reference"] == move.reference
    assert archive.read(mine["file"]) == sent.raw
    assert "account.signed_in" in [e["action"] for e in data["account_events"]]
    assert "data.json" in archive.read("README.txt").decode()


def test_nothing_of_another_citizen_is_in_the_download(db_session: Session) -> None:
    ada = make_citizen(db_session, email="ada@example.org")
    bo = make_citizen(db_session, email="bo@example.org", ni_number="CE123456D", given_names="Bo")
    _report(db_session, bo, "address", address_answers(address_line_1="99 Secret Lane"), ["hmrc"])
    queue_email(db_session, to=bo.email, subject="Change reported", template="verify_email",
                context={"link": "https://x.test/v", "hours": 1}, purpose="verify", related_id=bo.id)
    _inbound(db_session, "bo@example.org", b"Secret Lane\r\n")
    record_event(db_session, actor=f"citizen:{bo.id}", action="account.signed_in", subject_type="citizen",
                 subject_id=bo.id)

    archive, data = _opened(export_archive(db_session, ada, now=NOW))

    everything = b"".join(archive.read(name) for name in archive.namelist())
    for secret in (b"bo@example.org", b"CE123456D", b"Secret Lane", str(bo.id).encode()):
        assert secret not in everything
    assert data["reports"] == [] and data["emails_you_sent"] == [] and data["consents"] == []


def test_the_readme_is_in_the_accounts_language(db_session: Session) -> None:
    sian = make_citizen(db_session, email="sian@example.org", language="cy")
    archive, _ = _opened(export_archive(db_session, sian, now=NOW))
    readme = archive.read("README.txt").decode()
    assert "data.json" in readme and "Your data from Tell us once" not in readme
