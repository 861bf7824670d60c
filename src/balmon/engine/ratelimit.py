"""Cap the request rate to the bank's API (`source.max_requests_per_second`)."""

from __future__ import annotations

from balmon.clock import Clock


class RateLimiter:
    """Spaces requests evenly at `rate` per second; unlimited when `rate` is None."""

    def __init__(self, rate: float | None, clock: Clock) -> None:
        self._interval = 0.0 if rate is None else 1.0 / rate
        self._clock = clock
        self._next = 0.0

    async def acquire(self) -> None:
        """Wait for this request's turn."""
        if not self._interval:
            return
        now = self._clock.monotonic()
        slot = max(now, self._next)
        self._next = slot + self._interval
        if slot > now:
            await self._clock.sleep(slot - now)
