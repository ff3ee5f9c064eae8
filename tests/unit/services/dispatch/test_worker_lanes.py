"""The worker's lanes: jobs handed out in turns by department, never more than a department's limit at once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from tellusonce_services.dispatch.jobs import Job
from tellusonce_services.dispatch.worker import Lanes

LEASE = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def job(department_id: str) -> Job:
    return Job(notification_id=str(uuid.uuid4()), department_id=department_id, lease_expires_at=LEASE)


def test_departments_take_turns_and_a_full_lane_waits() -> None:
    async def scenario() -> None:
        lanes = Lanes(per_department=2)
        for _ in range(4):
            lanes.put(job("slow"))
        lanes.put(job("dvla"))
        lanes.put(job("hmrc"))
        taken = [(await lanes.get()) for _ in range(4)]
        # slow, dvla, hmrc in turn, then slow's second: slow's backlog never crowds the others out.
        assert [j.department_id for j in taken if j] == ["slow", "dvla", "hmrc", "slow"]
        # slow has 2 being sent: its other jobs wait though they are first in line.
        waiting = asyncio.create_task(lanes.get())
        await asyncio.sleep(0)
        assert not waiting.done()
        lanes.done("slow")
        assert (await asyncio.wait_for(waiting, 1)).department_id == "slow"  # type: ignore[union-attr]

    asyncio.run(scenario())


def test_a_new_job_wakes_a_waiting_sender_and_close_ends_them() -> None:
    async def scenario() -> None:
        lanes = Lanes(per_department=1)
        senders = [asyncio.create_task(lanes.get()) for _ in range(3)]
        await asyncio.sleep(0)
        lanes.put(job("dvla"))
        done, pending = await asyncio.wait(senders, timeout=1, return_when=asyncio.FIRST_COMPLETED)
        assert [t.result().department_id for t in done] == ["dvla"]
        lanes.close()
        assert await asyncio.wait_for(asyncio.gather(*pending), 1) == [None, None]

    asyncio.run(scenario())


def test_close_lets_waiting_jobs_be_taken_first() -> None:
    async def scenario() -> None:
        lanes = Lanes(per_department=5)
        lanes.put(job("dvla"))
        lanes.close()
        first = await lanes.get()
        assert first is not None and first.department_id == "dvla"
        assert await lanes.get() is None

    asyncio.run(scenario())
