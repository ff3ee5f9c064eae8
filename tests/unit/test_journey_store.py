"""The report journey's answers, kept in files between pages."""

from __future__ import annotations

import os
import time
import uuid
from datetime import timedelta
from pathlib import Path

from tellusonce.web.journey import Journey, JourneyStore


def test_a_journey_is_kept_and_read_back_by_its_citizen(tmp_path: Path) -> None:
    store = JourneyStore(tmp_path)
    citizen = uuid.uuid4()
    journey = Journey.start(citizen, "address")
    journey.set_answers(("postcode", "town"), {"postcode": "LS1 1AA", "town": ""})
    store.save(journey)
    loaded = store.load(journey.id, citizen)
    assert loaded == journey and loaded.answers == {"postcode": "LS1 1AA", "town": None}
    assert loaded.submission_key.startswith("web-") and len(loaded.submission_key) == 36
    assert oct((tmp_path / f"{journey.id}.json").stat().st_mode & 0o777) == oct(0o600)


def test_another_citizen_cannot_read_a_journey(tmp_path: Path) -> None:
    store = JourneyStore(tmp_path)
    journey = Journey.start(uuid.uuid4(), "address")
    store.save(journey)
    assert store.load(journey.id, uuid.uuid4()) is None


def test_ids_that_are_not_journey_ids_never_touch_the_filesystem(tmp_path: Path) -> None:
    (tmp_path / "secret.json").write_text("{}")
    store = JourneyStore(tmp_path / "journeys")
    for bad in ("../secret", "..%2Fsecret", "", "A" * 32, "0" * 31):
        assert store.load(bad, uuid.uuid4()) is None


def test_a_journey_untouched_for_a_day_is_forgotten(tmp_path: Path, clock) -> None:
    store = JourneyStore(tmp_path, lifetime=60)
    citizen = uuid.uuid4()
    old, fresh = Journey.start(citizen, "address"), Journey.start(citizen, "name")
    store.save(old)
    store.save(fresh)
    clock.advance(timedelta(hours=1))
    assert store.load(old.id, citizen) is None
    (tmp_path / f"{Journey.start(citizen, 'name').id}.json").write_text("{}")  # unreadable, but new on disk
    assert store.sweep() == 1
    assert [p.name for p in tmp_path.iterdir()] and not (tmp_path / f"{fresh.id}.json").exists()


def test_a_journey_is_aged_by_the_services_clock_not_the_files_time(tmp_path: Path, clock) -> None:
    store = JourneyStore(tmp_path, lifetime=60)
    journey = Journey.start(uuid.uuid4(), "address")
    store.save(journey)
    a_year_ago = time.time() - 365 * 24 * 3600  # a machine whose date is not the service's
    os.utime(tmp_path / f"{journey.id}.json", (a_year_ago, a_year_ago))
    assert store.sweep() == 0
    assert store.load(journey.id, uuid.UUID(journey.citizen_id)) is not None


def test_a_damaged_journey_file_reads_as_no_journey(tmp_path: Path) -> None:
    store = JourneyStore(tmp_path)
    journey = Journey.start(uuid.uuid4(), "address")
    (tmp_path / f"{journey.id}.json").write_text("{not json")
    assert store.load(journey.id, uuid.UUID(journey.citizen_id)) is None
    (tmp_path / f"{journey.id}.json").write_text('{"unexpected": 1}')
    assert store.load(journey.id, uuid.UUID(journey.citizen_id)) is None


def test_each_journey_gets_its_own_submission_key(tmp_path: Path) -> None:
    citizen = uuid.uuid4()
    assert Journey.start(citizen, "address").submission_key != Journey.start(citizen, "address").submission_key


def test_saving_again_replaces_the_journey_whole_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    store = JourneyStore(tmp_path / "journeys")  # made on the first save
    citizen = uuid.uuid4()
    journey = Journey.start(citizen, "address")
    store.save(journey)
    journey.set_answers(("town",), {"town": "Lee" * 300})
    store.save(journey)
    journey.set_answers(("town",), {"town": "Leeds"})
    store.save(journey)
    assert store.load(journey.id, citizen) == journey
    assert [p.name for p in (tmp_path / "journeys").iterdir()] == [f"{journey.id}.json"]
    assert oct((tmp_path / "journeys").stat().st_mode & 0o777) == oct(0o700)
