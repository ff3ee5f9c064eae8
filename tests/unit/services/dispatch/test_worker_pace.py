"""How much a worker claims of each department: its cap from the pace it answers at, and its share of a batch."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from tellusonce.data.outbox import AttemptRecord
from tellusonce_services.dispatch.jobs import even_shares
from tellusonce_services.dispatch.worker import Pace

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def answered(department_id: str, *latencies_ms: int | None) -> list[AttemptRecord]:
    return [AttemptRecord(uuid.uuid4(), department_id, "delivered", NOW, NOW, 204, ms) for ms in latencies_ms]


def pace() -> Pace:
    return Pace(per_department=10, most=1000, horizon=0.5)


def test_a_department_not_yet_heard_from_is_held_to_four_rounds_of_its_senders() -> None:
    p = pace()
    assert p.least == 40 and p.caps() == {}


def test_a_fast_department_may_hold_up_to_the_batch_and_a_slow_one_only_what_it_will_soon_send() -> None:
    p = pace()
    p.learn(answered("dvla", 1, 3) + answered("hmrc", 40) + answered("dwp", 2000))
    # In half a second: dvla's 10 senders at 2 ms send 2,500, more than the batch; hmrc's at 40 ms
    # send 125; dwp's at 2 s send 2, fewer than four rounds, which is still its cap.
    assert p.caps() == {"dvla": 1000, "hmrc": 125, "dwp": 40}


def test_slower_answers_count_at_once_and_faster_ones_gradually() -> None:
    p = pace()
    p.learn(answered("hmrc", 4))
    assert p.caps() == {"hmrc": 1000}
    p.learn(answered("hmrc", 50))  # it has slowed down: held back at once
    assert p.caps() == {"hmrc": 100}
    p.learn(answered("hmrc", 4))  # quick again: trusted step by step
    assert p.caps() == {"hmrc": int(10 * 0.5 / (0.8 * 0.05 + 0.2 * 0.004))}


def test_results_without_an_answer_time_teach_nothing() -> None:
    p = pace()
    p.learn(answered("dvla", None))
    assert p.caps() == {}


def test_a_batch_is_split_evenly_and_what_one_department_cannot_take_goes_to_the_others() -> None:
    assert even_shares({"dvla": 1000, "hmrc": 1000, "dwp": 1000}, 600) == {"dvla": 200, "hmrc": 200, "dwp": 200}
    # dwp may take only 50 more, and hmpo is on trial (one): the rest is shared by the others.
    assert even_shares({"dvla": 1000, "hmrc": 1000, "dwp": 50, "hmpo": 1}, 600) == \
        {"hmpo": 1, "dwp": 50, "dvla": 275, "hmrc": 274}
    assert even_shares({"dvla": 10, "hmrc": 0}, 600) == {"dvla": 10}  # less than the limit in all


def test_shares_never_add_up_to_more_than_the_batch() -> None:
    for limit in (1, 2, 5, 7, 100, 999):
        rooms = {f"d{i}": room for i, room in enumerate((1, 3, 40, 40, 500, 1000, 1000))}
        shares = even_shares(rooms, limit)
        assert sum(shares.values()) <= limit and all(shares[d] <= rooms[d] for d in shares)
        assert sum(shares.values()) == min(limit, sum(rooms.values()))
