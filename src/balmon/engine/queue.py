"""The run's work queue: new customers from the file, and customers waiting out a retry delay.

A fixed pool of workers (one per concurrency slot) takes jobs from here. A customer waiting
for its retry is parked in a heap, not in a worker, so it holds no slot and no connection
and the rest of the batch keeps going at full speed.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
from collections.abc import Iterator
from dataclasses import dataclass

from balmon.clock import Clock
from balmon.engine.breaker import CircuitBreaker
from balmon.engine.customers import Customer


@dataclass(slots=True)
class Job:
    customer: Customer
    retries_done: int = 0
    waited: float = 0.0
    probe: bool = False
    abandoned: bool = False


class WorkQueue:
    """Hands out due retries first, then new customers while the breaker allows."""

    def __init__(
        self,
        *,
        customers: Iterator[Customer],
        breaker: CircuitBreaker,
        clock: Clock,
        outage_timeout: float,
    ) -> None:
        self._customers = customers
        self._breaker = breaker
        self._clock = clock
        self._outage_timeout = outage_timeout
        self._waiting: list[tuple[float, int, Job]] = []
        self._sequence = itertools.count()
        self._wake = asyncio.Event()
        self._active = 0
        self._exhausted = False
        self.outage_declared = False

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def park(self, job: Job, delay: float) -> None:
        """Bring `job` back after `delay` seconds."""
        due = self._clock.monotonic() + delay
        heapq.heappush(self._waiting, (due, next(self._sequence), job))

    def done(self) -> None:
        """A worker finished a job (and perhaps parked it)."""
        self._active -= 1
        self._wake.set()

    async def take(self) -> Job | None:
        """The next job, or None when the run has nothing left to do."""
        while True:
            job = self._try_take(self._clock.monotonic())
            if job is not None:
                self._active += 1
                return job
            if self._exhausted and not self._waiting and not self._active:
                self._wake.set()
                return None
            await self._sleep_until(self._next_event())

    def _try_take(self, now: float) -> Job | None:
        if self._waiting and self._waiting[0][0] <= now:
            return heapq.heappop(self._waiting)[2]
        if self._exhausted:
            return None
        if not self._breaker.is_open and not self.outage_declared:
            return self._new_job(probe=False)
        if self.outage_declared or self._breaker.open_for(now) >= self._outage_timeout:
            self.outage_declared = True
            return self._new_job(probe=False, abandoned=True)
        if self._breaker.take_probe(now):
            return self._new_job(probe=True)
        return None

    def _new_job(self, *, probe: bool, abandoned: bool = False) -> Job | None:
        customer = next(self._customers, None)
        if customer is None:
            self._exhausted = True
            return None
        return Job(customer, retries_done=customer.attempts_made, probe=probe, abandoned=abandoned)

    def _next_event(self) -> float | None:
        times = [self._waiting[0][0]] if self._waiting else []
        if self._breaker.is_open and not self._exhausted:
            opened = self._breaker.opened_at or 0.0
            times += [self._breaker.next_probe_at(), opened + self._outage_timeout]
        return min(times) if times else None

    async def _sleep_until(self, moment: float | None) -> None:
        self._wake.clear()
        timeout = None if moment is None else max(0.0, moment - self._clock.monotonic())
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._wake.wait()
