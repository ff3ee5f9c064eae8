"""The department API: bearer keys, only the caller's notifications, cursor pages, acks, the feed."""

from __future__ import annotations

import uuid

import pytest

from tellusonce.application.consent import withdraw_consent
from tellusonce.cli import main
from tellusonce.db import transaction
from tellusonce.domain.events import parse_event
from tellusonce.models import ConsentGrant, NotificationState
from tests.dispatch_helpers import api_key, notifications, submit


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def queued(app, engine):
    """Two reports told to dvla and hmrc, one to the feed surgery."""
    submit(engine, ("dvla", "hmrc"), count=2)
    return submit(engine, ("meadow-lane-surgery",))


def test_api_refuses_a_request_without_a_key_saying_how_to_send_one(client, runner, queued):
    for headers in ({}, {"Authorization": "Basic ZHZsYTpzZWNyZXQ="}, {"Authorization": "Bearer "}):
        response = client.get("/api/v1/notifications", headers=headers)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="tellusonce"'
        assert response.json == {"status": 401, "error": "Send a department API key: Authorization: Bearer <key>."}


def test_api_says_a_key_it_does_not_know_is_not_recognised(client, runner, queued):
    real = api_key(runner, "dvla")
    prefix = real.split("_")[1]
    for unknown in ("tuo_nothing_here", "not-even-a-key", f"tuo_{prefix}_{'x' * 43}"):  # the last: dvla's prefix
        response = client.get("/api/v1/notifications", headers=_auth(unknown))
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith('Bearer realm="tellusonce", error="invalid_token"')
        assert response.json["error"] == ("This API key is not recognised. Check that you sent the whole key "
                                          "(tuo_…), or ask for a new one.")
        assert "dvla" not in response.get_data(as_text=True).lower()


def test_api_says_a_revoked_key_was_revoked_and_when(client, runner, queued):
    key = api_key(runner, "dvla")
    assert runner.invoke(main, ["departments", "key", "dvla", "--revoke", key.split("_")[1]]).exit_code == 0
    response = client.get("/api/v1/notifications", headers=_auth(key))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="tellusonce", error="invalid_token"')
    error = response.json["error"]
    assert error.startswith("This API key was revoked on ") and "Use another of your keys" in error


def test_api_lists_only_the_callers_notifications_oldest_first_with_the_event(client, runner, queued):
    response = client.get("/api/v1/notifications", headers=_auth(api_key(runner, "dvla")))
    assert response.status_code == 200
    page = response.json
    ids = {str(n.id) for n in notifications(client.application.extensions["tellusonce.engine"])
           if n.department_id == "dvla"}
    assert {item["id"] for item in page["notifications"]} == ids and len(ids) == 2
    assert page["has_more"] is False and page["next_cursor"] == page["notifications"][-1]["id"]
    first = page["notifications"][0]
    assert first["event"]["id"] == first["id"] and first["event"]["type"] == "tellusonce.change.address.v1"
    assert "ni_number" not in first["event"]["data"]
    created = [item["created_at"] for item in page["notifications"]]
    assert created == sorted(created)


def test_api_pages_with_a_cursor(client, runner, queued):
    headers = _auth(api_key(runner, "hmrc"))
    first = client.get("/api/v1/notifications?limit=1", headers=headers).json
    assert len(first["notifications"]) == 1 and first["has_more"] is True
    second = client.get(f"/api/v1/notifications?limit=1&after={first['next_cursor']}", headers=headers).json
    assert len(second["notifications"]) == 1 and second["has_more"] is False
    assert second["notifications"][0]["id"] != first["notifications"][0]["id"]
    empty = client.get(f"/api/v1/notifications?after={second['next_cursor']}", headers=headers).json
    assert empty == {"notifications": [], "next_cursor": second["next_cursor"], "has_more": False}


def test_api_refuses_another_departments_notification_and_cursor(client, runner, queued):
    hmrc_id = next(str(n.id) for n in notifications(client.application.extensions["tellusonce.engine"])
                   if n.department_id == "hmrc")
    headers = _auth(api_key(runner, "dvla"))
    assert client.get(f"/api/v1/notifications/{hmrc_id}", headers=headers).status_code == 404
    assert client.post(f"/api/v1/notifications/{hmrc_id}/ack", headers=headers).status_code == 404
    assert client.get(f"/api/v1/notifications?after={hmrc_id}", headers=headers).status_code == 404
    assert client.get("/api/v1/notifications?after=nonsense", headers=headers).status_code == 400
    assert client.get(f"/api/v1/notifications/{uuid.uuid4()}", headers=headers).status_code == 404
    assert client.get("/api/v1/notifications/not-an-id", headers=headers).status_code == 404


def test_ack_is_recorded_once_and_safe_to_repeat(client, runner, queued):
    headers = _auth(api_key(runner, "dvla"))
    item = client.get("/api/v1/notifications", headers=headers).json["notifications"][0]
    first = client.post(item["ack_url"], headers=headers)
    assert first.status_code == 200 and first.json["state"] == NotificationState.ACKNOWLEDGED
    again = client.post(item["ack_url"], headers=headers)
    assert again.json["acknowledged_at"] == first.json["acknowledged_at"]


def test_a_feed_notification_is_delivered_when_the_department_first_fetches_it(client, runner, queued):
    engine = client.application.extensions["tellusonce.engine"]
    [waiting] = [n for n in notifications(engine) if n.department_id == "meadow-lane-surgery"]
    assert waiting.state == NotificationState.PENDING
    page = client.get("/api/v1/notifications", headers=_auth(api_key(runner, "meadow-lane-surgery"))).json
    [item] = page["notifications"]
    assert item["state"] == NotificationState.DELIVERED and item["delivered_at"]
    assert parse_event(__import__("json").dumps(item["event"]).encode()).get_id() == str(waiting.id)


def test_a_notification_cancelled_by_withdrawn_consent_is_not_shown(client, runner, queued):
    engine = client.application.extensions["tellusonce.engine"]
    [waiting] = [n for n in notifications(engine) if n.department_id == "meadow-lane-surgery"]
    with transaction(engine) as session:
        grant = session.query(ConsentGrant).filter_by(receipt_id=waiting.consent_receipt_id).one()
        withdraw_consent(session, citizen_id=grant.citizen_id, grant_id=grant.id, now=grant.granted_at)
    headers = _auth(api_key(runner, "meadow-lane-surgery"))
    assert client.get("/api/v1/notifications", headers=headers).json["notifications"] == []
    assert client.get(f"/api/v1/notifications/{waiting.id}", headers=headers).status_code == 404


def test_keys_can_be_listed_and_revoked(client, runner, queued):
    key = api_key(runner, "dvla")
    prefix = key.split("_")[1]
    listing = runner.invoke(main, ["departments", "key", "dvla", "--list"])
    assert prefix in listing.output and "active" in listing.output
    assert key not in listing.output
    assert runner.invoke(main, ["departments", "key", "dvla", "--revoke", prefix]).exit_code == 0
    assert client.get("/api/v1/notifications", headers=_auth(key)).status_code == 401


def test_openapi_document_is_served_without_a_key(client):
    document = client.get("/api/v1/openapi.json").json
    assert document["openapi"] == "3.1.0"
    assert set(document["paths"]) == {"/notifications", "/notifications/{notification_id}",
                                      "/notifications/{notification_id}/ack"}


def test_the_api_keeps_to_its_openapi_document_under_schemathesis(app, runner, queued):
    import schemathesis
    from hypothesis import HealthCheck, given
    from hypothesis import settings as hypothesis_settings

    key = api_key(runner, "dvla")
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 3
    for operation in operations:
        @given(case=operation.as_strategy())
        @hypothesis_settings(max_examples=25, deadline=None, database=None,
                             suppress_health_check=list(HealthCheck))
        def check(case) -> None:  # type: ignore[no-untyped-def]
            case.call_and_validate(headers=_auth(key))

        check()
