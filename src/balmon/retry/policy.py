"""Retry policy as small composable values: when to retry, and how long to wait.

Why not tenacity or stamina: both drive a retry loop *around* a call and sleep inside it.
balmon must not hold a concurrency slot (or a connection) while a customer waits, so the
engine parks a waiting customer in its work queue and only asks this policy for the next
delay. The policy is pure: the caller supplies the random source and the elapsed waits,
which keeps it exact and instant to test.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from balmon.config.settings import RetrySettings
from balmon.errors import CODES, ErrorCode


def _retryable_by_default() -> frozenset[ErrorCode]:
    return frozenset(code for code, entry in CODES.items() if entry.retryable)


@dataclass(frozen=True, slots=True)
class Backoff:
    """The scheduled waits before retry 1, 2, 3, ... (exponential by default: 5, 10, 20)."""

    delays: tuple[float, ...] = (5.0, 10.0, 20.0)
    jitter: Literal["none", "full"] = "none"

    @classmethod
    def doubling(cls, first: float, retries: int) -> Backoff:
        """`first`, then twice the wait before each further retry: `retries` delays."""
        return cls(tuple(first * 2**n for n in range(retries)))

    def delay(self, retry_number: int, rng: random.Random) -> float:
        """Wait before retry `retry_number` (1-based); full jitter draws below the delay."""
        base = self.delays[retry_number - 1]
        return rng.uniform(0.0, base) if self.jitter == "full" else base

    def budget(self, max_retries: int) -> float:
        """The most a customer may wait in total: the sum of its scheduled delays."""
        return sum(self.delays[:max_retries])


@dataclass(frozen=True, slots=True)
class RetryOn:
    """Which error codes are worth another attempt."""

    codes: frozenset[ErrorCode] = field(default_factory=_retryable_by_default)

    def __contains__(self, code: object) -> bool:
        return code in self.codes


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Up to `max_retries` retries of a retryable code, waiting `backoff` before each."""

    max_retries: int = 3
    backoff: Backoff = Backoff()
    retry_on: RetryOn = RetryOn()

    @classmethod
    def from_settings(cls, settings: RetrySettings) -> RetryPolicy:
        return cls(
            max_retries=settings.max_retries,
            backoff=Backoff(tuple(settings.delays_seconds), settings.jitter),
        )

    @property
    def max_attempts(self) -> int:
        return self.max_retries + 1

    def next_delay(
        self,
        *,
        code: ErrorCode,
        retries_done: int,
        waited: float,
        retry_after: float | None,
        rng: random.Random,
    ) -> float | None:
        """Seconds to wait before the next attempt, or None when the customer gives up.

        A server's Retry-After replaces the scheduled delay when it is longer, but only while
        the customer's total wait stays within the budget (the sum of the delays).
        """
        if code not in self.retry_on or retries_done >= self.max_retries:
            return None
        delay = self.backoff.delay(retries_done + 1, rng)
        if retry_after is not None and retry_after > delay:
            delay = retry_after
        if waited + delay > self.backoff.budget(self.max_retries) + 1e-9:
            return None
        return delay


def schedule(policy: RetryPolicy, codes: Sequence[ErrorCode], seed: int = 0) -> list[float]:
    """The waits a customer failing with `codes` in turn would see (for docs and tests)."""
    rng = random.Random(seed)
    waits: list[float] = []
    for retries_done, code in enumerate(codes):
        delay = policy.next_delay(
            code=code, retries_done=retries_done, waited=sum(waits), retry_after=None, rng=rng
        )
        if delay is None:
            break
        waits.append(delay)
    return waits
