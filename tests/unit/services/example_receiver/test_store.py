"""The reference receiver's store has its tables whenever the acker or the feed puller uses it.

``sqlite3.connect`` makes an empty database where the file is missing: a receiver whose
instance folder was emptied under it (``make clean`` or a fresh checkout's ``rm -rf instance``
while an earlier demo still runs, then ``make run``) logged ``no such table: event`` from the
acker every second. The store makes its tables again whenever it opens a database without them.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tellusonce_services.example_receiver.acker import Acker
from tellusonce_services.example_receiver.feed import FeedPuller
from tellusonce_services.example_receiver.store import Store


def _tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as db:
        return {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _acker(store: Store, tmp_path: Path) -> Acker:
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({"dvla": "tuo_test", "meadow-lane-surgery": "tuo_feed"}))
    # The discard port: a fetch there fails as when the API is down, which the puller logs and passes over.
    feeds = FeedPuller(store, api_url="http://127.0.0.1:9", keys_file=keys, departments=["meadow-lane-surgery"],
                       timeout=0.5)
    return Acker(store, api_url="http://127.0.0.1:9", keys_file=keys, feeds=feeds, timeout=0.5)


def test_a_new_store_has_its_tables_before_anything_uses_it(tmp_path: Path) -> None:
    Store(tmp_path / "instance" / "receiver.sqlite3")
    assert {"event", "feed_cursor"} <= _tables(tmp_path / "instance" / "receiver.sqlite3")


@pytest.mark.parametrize("replaced_by", ["nothing", "an empty file"])
def test_a_store_whose_file_is_replaced_under_it_makes_its_tables_again(tmp_path: Path, replaced_by: str) -> None:
    path = tmp_path / "receiver.sqlite3"
    store = Store(path)
    acker = _acker(store, tmp_path)
    for file in tmp_path.glob("receiver.sqlite3*"):
        file.unlink()
    if replaced_by == "an empty file":
        path.touch()  # what another process's connect leaves behind
    assert acker.ack_pending() == 0  # it found its tables, and nothing to acknowledge
    assert acker.feeds is not None and acker.feeds.pull() == 0
    assert store.add(webhook_id="w-1", department="dvla", type_="t", subject="TUO-1", body=b"{}")
    assert store.unacked(["dvla"]) == [("w-1", "dvla")]
