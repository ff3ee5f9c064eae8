"""The worker's pace: how many of a department's notifications it may hold claimed, from how fast it answers."""

from __future__ import annotations

from datetime import UTC, datetime

from services.worker import Pace
from services.worker_db import Result

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def answered(department_id: str, *latencies_ms: int | None) -> list[Result]:
    return [Result(f"n{i}", department_id, "delivered", NOW, NOW, 204, ms) for i, ms in enumerate(latencies_ms)]


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
