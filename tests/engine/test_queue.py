"""The work queue on its own: order, parking, slot release, probes and abandonment.

A manual clock drives monotonic time; the queue only ever sleeps when nothing is due, and
those tests wake it by finishing a job, so none waits for real time.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from balmon.engine.breaker import CircuitBreaker
from balmon.engine.customers import Customer
from balmon.engine.queue import Job, WorkQueue
from balmon.errors import ErrorCode

OUTAGE_TIMEOUT = 60.0
PROBE_INTERVAL = 5.0


class ManualClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def now(self) -> datetime:
        return datetime(2026, 11, 27, tzinfo=UTC) + timedelta(seconds=self.t)

    def monotonic(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.t += seconds


def _customers(n: int) -> list[Customer]:
    return [Customer(f"C{i}", Decimal(0), line=i + 2) for i in range(n)]


def _queue(
    n: int, clock: ManualClock, breaker: CircuitBreaker | None = None
) -> tuple[WorkQueue, CircuitBreaker]:
    breaker = breaker or CircuitBreaker(window=2, probe_interval=PROBE_INTERVAL)
    queue = WorkQueue(
        customers=iter(_customers(n)),
        breaker=breaker,
        clock=clock,
        outage_timeout=OUTAGE_TIMEOUT,
    )
    return queue, breaker


def _open(breaker: CircuitBreaker, clock: ManualClock) -> None:
    for _ in range(2):
        breaker.record(code=ErrorCode.TIMEOUT, now=clock.monotonic())
    assert breaker.is_open


async def _settle() -> None:
    """Let every ready task run until it waits (no wall-clock time passes)."""
    for _ in range(10):
        await asyncio.sleep(0)


async def _blocks(queue: WorkQueue) -> bool:
    """Whether `take` has nothing to hand out now (it would sleep)."""
    taking = asyncio.create_task(queue.take())
    await _settle()
    blocked = not taking.done()
    taking.cancel()
    return blocked


async def _ids(queue: WorkQueue, count: int) -> list[str]:
    taken = [await queue.take() for _ in range(count)]
    return [job.customer.customer_id for job in taken if job is not None]


async def test_new_customers_come_in_file_order_then_none_once_all_are_done() -> None:
    queue, _ = _queue(3, ManualClock())
    assert await _ids(queue, 3) == ["C0", "C1", "C2"]
    for _ in range(3):
        queue.done()
    assert await queue.take() is None


async def test_a_parked_job_waits_its_delay_while_new_customers_go_ahead() -> None:
    clock = ManualClock()
    queue, _ = _queue(3, clock)
    first = await queue.take()
    assert first is not None
    queue.park(first, 5.0)
    queue.done()
    assert queue.waiting == 1
    assert await _ids(queue, 1) == ["C1"]  # the retry is not due: the batch goes on
    clock.t += 5.0
    assert await _ids(queue, 1) == ["C0"]  # due retries come before new customers
    assert queue.waiting == 0
    assert await _ids(queue, 1) == ["C2"]


async def test_parked_jobs_come_back_in_due_order_not_parking_order() -> None:
    clock = ManualClock()
    queue, _ = _queue(2, clock)
    late, early = await queue.take(), await queue.take()
    assert late is not None and early is not None
    queue.park(late, 20.0)
    queue.park(early, 5.0)
    queue.done()
    queue.done()
    clock.t += 20.0
    assert await _ids(queue, 2) == ["C1", "C0"]


async def test_the_end_waits_for_active_jobs_which_may_still_park_a_retry() -> None:
    clock = ManualClock()
    queue, _ = _queue(1, clock)
    job = await queue.take()
    assert job is not None
    ending = asyncio.create_task(queue.take())
    await _settle()
    assert not ending.done()  # a job is still active: its customer may need a retry
    queue.park(job, 0.0)
    queue.done()  # finishing a job frees its slot and wakes the waiting taker
    retried = await asyncio.wait_for(ending, 1.0)
    assert retried is job
    queue.done()
    assert await asyncio.wait_for(queue.take(), 1.0) is None


async def test_an_open_breaker_starts_no_new_customer_but_one_probe_per_interval() -> None:
    clock = ManualClock()
    queue, breaker = _queue(5, clock)
    _open(breaker, clock)
    assert await _blocks(queue)  # open: nothing new starts before the first probe is due
    clock.t += PROBE_INTERVAL
    probe = await queue.take()
    assert probe is not None and probe.probe and not probe.abandoned
    assert probe.customer.customer_id == "C0"
    assert await _blocks(queue)  # one probe per interval
    clock.t += PROBE_INTERVAL
    second = await queue.take()
    assert second is not None and second.probe and second.customer.customer_id == "C1"


async def test_due_retries_still_go_out_while_the_breaker_is_open() -> None:
    clock = ManualClock()
    queue, breaker = _queue(3, clock)
    job = await queue.take()
    assert job is not None
    queue.park(job, 1.0)
    queue.done()
    _open(breaker, clock)
    clock.t += 1.0
    retried = await queue.take()
    assert retried is job and not retried.probe


async def test_an_outage_longer_than_the_timeout_abandons_every_remaining_customer() -> None:
    clock = ManualClock()
    queue, breaker = _queue(3, clock)
    _open(breaker, clock)
    clock.t += OUTAGE_TIMEOUT
    jobs = [await queue.take() for _ in range(3)]
    assert all(job is not None and job.abandoned and not job.probe for job in jobs)
    assert queue.outage_declared
    for _ in jobs:
        queue.done()
    assert await queue.take() is None


async def test_once_declared_the_outage_holds_even_if_the_breaker_closes() -> None:
    clock = ManualClock()
    queue, breaker = _queue(2, clock)
    _open(breaker, clock)
    clock.t += OUTAGE_TIMEOUT
    first = await queue.take()
    assert first is not None and first.abandoned
    breaker.record(code=None, now=clock.monotonic(), probe=True)
    assert not breaker.is_open
    second = await queue.take()
    assert second is not None and second.abandoned


@pytest.mark.parametrize("customers", [0, 1])
async def test_an_empty_or_finished_file_ends_the_queue(customers: int) -> None:
    queue, _ = _queue(customers, ManualClock())
    for job in [await queue.take() for _ in range(customers)]:
        assert isinstance(job, Job)
        queue.done()
    assert await queue.take() is None
