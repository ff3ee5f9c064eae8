"""Acknowledging received events through the department API, from a background thread.

Events are acknowledged after they are stored, never inside the webhook
request, so the answer to Tell us once is quick. An acknowledgement that fails
(the API is down, no key yet) is tried again on the next pass. The same thread
first pulls the feed departments' feeds (``tellusonce_services.example_receiver.feed``), every few
seconds, so what they fetch is acknowledged in the same pass.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from tellusonce_services.example_receiver.feed import FeedPuller
from tellusonce_services.example_receiver.setup import load_keys
from tellusonce_services.example_receiver.store import Store

log = logging.getLogger(__name__)
# The API is reached directly, whatever proxy the environment names.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Acker:
    def __init__(self, store: Store, *, api_url: str, keys_file: Path, interval: float = 1.0,
                 timeout: float = 5.0, feeds: FeedPuller | None = None, feed_interval: float = 5.0) -> None:
        self.store = store
        self.feeds = feeds
        self.feed_interval = feed_interval
        self._feeds_pulled_at: float | None = None
        self.api_url = api_url.rstrip("/")
        self.keys_file = keys_file
        self.interval = interval
        self.timeout = timeout
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="receiver-acker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.timeout + 5)

    def wake(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            try:
                self._pull_feeds_when_due()
            except Exception:  # noqa: BLE001 - the thread must outlive any one failure, and still acknowledge
                log.exception("fetching the feeds failed; trying again")
            try:
                self.ack_pending()
            except Exception:  # noqa: BLE001 - the thread must outlive any one failure
                log.exception("acknowledging failed; trying again")

    def _pull_feeds_when_due(self) -> None:
        now = time.monotonic()
        if self.feeds is None or (self._feeds_pulled_at is not None
                                  and now - self._feeds_pulled_at < self.feed_interval):
            return
        self._feeds_pulled_at = now
        self.feeds.pull()

    def ack_pending(self) -> int:
        """Acknowledge what is stored and not yet acknowledged; returns how many were."""
        keys = load_keys(self.keys_file)
        done = 0
        for webhook_id, department in self.store.unacked(sorted(keys)):
            if self._stop.is_set():
                break
            error = self._ack(webhook_id, keys[department])
            if error is None:
                self.store.mark_acked(webhook_id)
                done += 1
            elif error.endswith(" 404"):
                # Tell us once does not know it as this department's: asking again will not help.
                self.store.mark_acked(webhook_id, error="not a notification Tell us once knows for us")
            else:
                self.store.note_ack_error(webhook_id, error)
        return done

    def _ack(self, webhook_id: str, key: str) -> str | None:
        request = urllib.request.Request(
            f"{self.api_url}/api/v1/notifications/{webhook_id}/ack", method="POST", data=b"",
            headers={"Authorization": f"Bearer {key}", "Accept": "application/json"},
        )
        try:
            with _OPENER.open(request, timeout=self.timeout) as response:
                json.loads(response.read() or b"{}")
                return None
        except urllib.error.HTTPError as e:
            with e:
                return f"the API answered {e.code}"
        except (urllib.error.URLError, OSError, ValueError) as e:
            return f"the API could not be reached: {e}"
