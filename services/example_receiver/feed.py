"""Pulling the feed departments' notifications through the department API.

A feed department is not sent anything: it asks ``GET /api/v1/notifications``
with its API key, and what was waiting for it counts as delivered when it is
fetched. The example receiver does this for every feed department it has a
key for, as that department's own systems would: it pages on from the cursor it
kept last time, keeps each event once in the same store as the webhooks'
(so the acker acknowledges it the same way), and keeps the new cursor. A
department whose fetch fails (the API is down, no key yet) is tried again on the
next pass; a cursor the API no longer knows starts that feed again from the
beginning (each event is still kept once).
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tellusonce_services.example_receiver.setup import load_keys
from tellusonce_services.example_receiver.store import Store

log = logging.getLogger(__name__)
# The API is reached directly, whatever proxy the environment names.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
PAGE = 100


class FeedError(Exception):
    """A fetch of a feed did not succeed; ``status`` is the API's HTTP status when it answered."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class FeedPuller:
    def __init__(self, store: Store, *, api_url: str, keys_file: Path, departments: Iterable[str],
                 timeout: float = 5.0) -> None:
        self.store = store
        self.api_url = api_url.rstrip("/")
        self.keys_file = keys_file
        self.departments = tuple(departments)
        self.timeout = timeout

    def pull(self) -> int:
        """Fetch what is new in every feed this receiver has a key for; how many events were new."""
        keys = load_keys(self.keys_file)
        new = 0
        for department in self.departments:
            if department not in keys:
                continue
            try:
                new += self._pull(department, keys[department])
            except FeedError as e:
                log.warning("could not fetch the feed of %s: %s", department, e, extra={"department": department})
        return new

    def _pull(self, department: str, key: str) -> int:
        new = 0
        after = self.store.feed_cursor(department)
        while True:
            try:
                page = self._fetch(key, after)
            except FeedError as e:
                if e.status == 404 and after is not None:  # the API no longer knows our cursor
                    log.warning("the feed of %s does not know cursor %s; starting again", department, after)
                    after = None
                    self.store.set_feed_cursor(department, None)
                    continue
                raise
            for item in page["notifications"]:
                event = item["event"]
                new += self.store.add(webhook_id=item["id"], department=department, type_=event.get("type", ""),
                                      subject=event.get("subject") or item.get("report_reference", ""),
                                      body=json.dumps(event, ensure_ascii=False).encode("utf-8"))
            cursor = page.get("next_cursor")
            if cursor and cursor != after:
                self.store.set_feed_cursor(department, cursor)
                after = cursor
            if not page.get("has_more") or not page["notifications"]:
                return new

    def _fetch(self, key: str, after: str | None) -> dict[str, Any]:
        query = {"limit": str(PAGE), **({"after": after} if after else {})}
        request = urllib.request.Request(
            f"{self.api_url}/api/v1/notifications?{urllib.parse.urlencode(query)}",
            headers={"Authorization": f"Bearer {key}", "Accept": "application/json"},
        )
        try:
            with _OPENER.open(request, timeout=self.timeout) as response:
                page = json.loads(response.read())
        except urllib.error.HTTPError as e:
            with e:
                raise FeedError(f"the API answered {e.code}", status=e.code) from e
        except (urllib.error.URLError, OSError, ValueError) as e:
            raise FeedError(f"the API could not be reached: {e}") from e
        if not isinstance(page, dict) or not isinstance(page.get("notifications"), list):
            raise FeedError("the API's answer is not a page of notifications")
        return page
