"""The example receiver: verifies, refuses replays, keeps each event once, shows it, acknowledges it."""

from __future__ import annotations

import dataclasses
import json
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest

from tellusonce.models import NotificationState
from tellusonce_services.dispatch.signing import derived_secret, signature_headers
from tellusonce_services.example_receiver.app import create_receiver_app
from tellusonce_services.example_receiver.setup import mint_demo_keys
from tests.conftest import TEST_SECRET_KEY
from tests.dispatch_helpers import ServedApp, dispatch_once, notifications, point_at, submit
from tests.factories import NOW


@pytest.fixture
def web(app):
    with ServedApp(app) as served:
        yield served


@pytest.fixture
def receiver(settings, web):
    receiver_settings = dataclasses.replace(settings, public_url=web.url)
    app = create_receiver_app(receiver_settings, start_acker=False)
    with ServedApp(app) as served:
        served.store = app.extensions["receiver"]["store"]
        served.acker = app.extensions["receiver"]["acker"]
        served.feeds = app.extensions["receiver"]["feeds"]
        yield served


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/cloudevents+json", **headers})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        with e:
            return e.code, json.loads(e.read())


def _event(notification_id: str) -> bytes:
    return json.dumps({"specversion": "1.0", "id": notification_id, "source": "http://test", "type":
                       "tellusonce.change.address.v1", "subject": "TUO-TEST", "data": {"town": "Leeds"}}).encode()


def test_an_event_dispatched_to_the_receiver_is_kept_shown_and_acknowledged(committed, settings, receiver):
    point_at(committed, None, ("dvla",), url=lambda d: f"{receiver.url}/hooks/{d}")
    mint_demo_keys(committed, settings)
    [queued] = submit(committed, ("dvla",))
    assert dispatch_once(committed, settings).delivered == 1
    [stored] = receiver.store.inbox("dvla")
    assert stored.webhook_id == str(queued.id) and stored.subject.startswith("TUO-")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"{receiver.url}/inbox/dvla", timeout=5) as response:
        page = response.read().decode()
    assert "Amara" in page and "Not acknowledged yet" in page
    assert receiver.acker.ack_pending() == 1
    [n] = notifications(committed)
    assert n.state == NotificationState.ACKNOWLEDGED
    assert receiver.store.inbox("dvla")[0].acked_at is not None


FEED = "meadow-lane-surgery"


def test_the_receiver_fetches_a_feed_departments_notifications_and_acknowledges_them(committed, settings, receiver):
    keys = mint_demo_keys(committed, settings)
    assert FEED in keys  # made by the demo itself, as `tellusonce departments key` makes one
    first, second = submit(committed, (FEED,), count=2)
    assert receiver.feeds.pull() == 2
    assert sorted(e.webhook_id for e in receiver.store.inbox(FEED)) == sorted([str(first.id), str(second.id)])
    assert {n.state for n in notifications(committed)} == {NotificationState.DELIVERED}  # fetched
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"{receiver.url}/inbox/{FEED}", timeout=5) as response:
        page = response.read().decode()
    assert "Amara" in page and "Not acknowledged yet" in page
    assert receiver.acker.ack_pending() == 2
    assert {n.state for n in notifications(committed)} == {NotificationState.ACKNOWLEDGED}
    assert receiver.feeds.pull() == 0  # read on from where it stopped: nothing new
    later = NOW + timedelta(minutes=1)  # the feed is in order of creation, then of id
    [third] = [n for n in submit(committed, (FEED,), now=later) if n.id not in (first.id, second.id)]
    assert receiver.feeds.pull() == 1 and receiver.store.inbox(FEED)[0].webhook_id == str(third.id)


def test_the_running_receiver_settles_a_feed_notification_on_its_own(committed, settings, web):
    mint_demo_keys(committed, settings)
    app = create_receiver_app(dataclasses.replace(settings, public_url=web.url), ack_interval=0.05)
    try:
        [queued] = submit(committed, (FEED,))
        deadline = time.monotonic() + 60
        while notifications(committed)[0].state != NotificationState.ACKNOWLEDGED:
            assert time.monotonic() < deadline, f"still {notifications(committed)[0].state}"
            time.sleep(0.05)
    finally:
        app.extensions["receiver"]["acker"].stop()
    [stored] = app.extensions["receiver"]["store"].inbox(FEED)
    assert stored.webhook_id == str(queued.id) and stored.acked_at is not None


def test_the_receiver_keeps_a_redelivered_event_once(receiver):
    body = _event("0f0e0d0c-0000-4000-8000-000000000001")
    headers = signature_headers(body, msg_id="0f0e0d0c-0000-4000-8000-000000000001", at=datetime.now(UTC),
                                secrets=[derived_secret(TEST_SECRET_KEY, "hmrc")])
    assert _post(f"{receiver.url}/hooks/hmrc", body, headers) == (
        200, {"received": "0f0e0d0c-0000-4000-8000-000000000001", "duplicate": False})
    assert _post(f"{receiver.url}/hooks/hmrc", body, headers)[1]["duplicate"] is True
    [stored] = receiver.store.inbox("hmrc")
    assert stored.deliveries == 2


def test_the_receiver_refuses_an_event_signed_more_than_five_minutes_ago(receiver):
    body = _event("0f0e0d0c-0000-4000-8000-000000000002")
    headers = signature_headers(body, msg_id="0f0e0d0c-0000-4000-8000-000000000002",
                                at=datetime.now(UTC) - timedelta(minutes=6),
                                secrets=[derived_secret(TEST_SECRET_KEY, "hmrc")])
    status, answer = _post(f"{receiver.url}/hooks/hmrc", body, headers)
    assert status == 401 and "too old" in answer["error"]
    assert receiver.store.inbox("hmrc") == []


def test_the_receiver_refuses_a_wrong_signature_and_a_tampered_body(receiver):
    body = _event("0f0e0d0c-0000-4000-8000-000000000003")
    wrong = signature_headers(body, msg_id="0f0e0d0c-0000-4000-8000-000000000003", at=datetime.now(UTC),
                              secrets=[derived_secret(TEST_SECRET_KEY, "dvla")])
    assert _post(f"{receiver.url}/hooks/hmrc", body, wrong)[0] == 401
    right = signature_headers(body, msg_id="0f0e0d0c-0000-4000-8000-000000000003", at=datetime.now(UTC),
                              secrets=[derived_secret(TEST_SECRET_KEY, "hmrc")])
    assert _post(f"{receiver.url}/hooks/hmrc", body.replace(b"Leeds", b"Luton"), right)[0] == 401
    assert _post(f"{receiver.url}/hooks/hmrc", body, {"webhook-id": "x", "webhook-timestamp": "1",
                                                      "webhook-signature": "nonsense"})[0] == 401
    assert receiver.store.inbox("hmrc") == []


def test_the_receiver_accepts_any_signature_during_a_key_rotation(receiver, monkeypatch):
    new = derived_secret("another key used for the rotation test", "hmrc")
    monkeypatch.setenv("TELLUSONCE_WEBHOOK_SECRET_HMRC", new)
    body = _event("0f0e0d0c-0000-4000-8000-000000000004")
    # The sender signs with the old and the new secret while the department moves over.
    headers = signature_headers(body, msg_id="0f0e0d0c-0000-4000-8000-000000000004", at=datetime.now(UTC),
                                secrets=[derived_secret(TEST_SECRET_KEY, "hmrc"), new])
    assert len(headers["webhook-signature"].split()) == 2
    assert _post(f"{receiver.url}/hooks/hmrc", body, headers)[0] == 200


def test_a_ping_is_answered_and_not_kept(committed, settings, receiver, runner):
    from tellusonce.cli import main

    point_at(committed, None, ("hmpo",), url=lambda d: f"{receiver.url}/hooks/{d}")
    result = runner.invoke(main, ["departments", "ping", "hmpo"])
    assert result.exit_code == 0 and result.output.startswith("hmpo: delivered (HTTP 200")
    assert receiver.store.inbox("hmpo") == []


def test_ping_says_why_a_department_cannot_be_pinged(runner, app):
    from tellusonce.cli import main

    result = runner.invoke(main, ["departments", "ping", "meadow-lane-surgery"])
    assert result.exit_code == 1 and "feed" in result.output
    assert runner.invoke(main, ["departments", "ping", "nobody"]).output.startswith("Error: no department 'nobody'")
