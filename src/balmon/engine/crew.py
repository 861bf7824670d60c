"""One process's share of a run: the work queue and its workers, with the breaker and rate
limit that guard the bank."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from balmon.clock import Clock
from balmon.config import Settings
from balmon.engine.breaker import CircuitBreaker
from balmon.engine.customers import Customer
from balmon.engine.queue import WorkQueue
from balmon.engine.ratelimit import RateLimiter
from balmon.engine.records import RecordSink
from balmon.engine.worker import Tally, Worker
from balmon.retry import RetryPolicy
from balmon.rules import Judge
from balmon.source import BalanceSource


@dataclass
class Crew:
    queue: WorkQueue
    workers: list[Worker]

    async def run(self) -> None:
        """Until every customer has an outcome (retries included)."""
        await asyncio.gather(*(worker.run() for worker in self.workers))


def share_of(total: int, processes: int) -> int:
    """One process's part of `engine.concurrency` (at least one slot each)."""
    return max(1, total // processes)


def build_crew(
    *,
    settings: Settings,
    run_id: int,
    source: BalanceSource,
    customers: Iterator[Customer],
    sink: RecordSink,
    tally: Tally,
    clock: Clock,
    rng: random.Random,
    business_date: date,
    processes: int = 1,
) -> Crew:
    """The queue and workers of one of `processes` processes sharing a run: each gets its
    share of the concurrency and of the rate limit, and its own breaker with the run's
    thresholds (every process sees the same bank, so each opens on the same outage)."""
    breaker = CircuitBreaker(
        window=settings.source.breaker_window,
        probe_interval=settings.retry.delays_seconds[0] if settings.retry.delays_seconds else 1.0,
        enabled=settings.source.circuit_breaker,
    )
    queue = WorkQueue(
        customers=customers,
        breaker=breaker,
        clock=clock,
        outage_timeout=settings.source.outage_timeout_seconds,
    )
    rate = settings.source.max_requests_per_second
    # One limiter and one breaker shared by this process's workers: they guard the bank.
    limiter = RateLimiter(None if rate is None else rate / processes, clock)
    policy = RetryPolicy.from_settings(settings.retry)
    judge = Judge.for_date(settings, business_date)
    workers = [
        Worker(
            run_id=run_id,
            source=source,
            policy=policy,
            judge=judge,
            breaker=breaker,
            limiter=limiter,
            queue=queue,
            writer=sink,
            clock=clock,
            rng=rng,
            tally=tally,
            outage_seconds=settings.source.outage_timeout_seconds,
        )
        for _ in range(share_of(settings.engine.concurrency, processes))
    ]
    return Crew(queue, workers)
