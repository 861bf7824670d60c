"""The circuit breaker that protects the bank's API during an outage."""

from __future__ import annotations

from collections import deque

from balmon.errors import ErrorCode

# Only failures that say "the API is down" count; bad data from a healthy API does not.
OUTAGE_CODES = frozenset({ErrorCode.TIMEOUT, ErrorCode.NETWORK_ERROR, ErrorCode.API_ERROR})


class CircuitBreaker:
    """Judges the last `window` attempts; opens when more than half were outage failures.

    While open, no new customer starts except one probe every `probe_interval` seconds; the
    first probe that succeeds closes it. Times are monotonic seconds from the caller's clock.
    """

    def __init__(self, *, window: int, probe_interval: float, enabled: bool = True) -> None:
        self._window: deque[bool] = deque(maxlen=window)
        self._probe_interval = probe_interval
        self._enabled = enabled
        self.opened_at: float | None = None
        self._next_probe = 0.0

    @property
    def is_open(self) -> bool:
        return self.opened_at is not None

    def record(self, *, code: ErrorCode | None, now: float, probe: bool = False) -> None:
        """Feed one attempt's outcome (`code` None for success)."""
        if not self._enabled:
            return
        if self.is_open:
            if probe and code is None:
                self._close()
            return
        self._window.append(code in OUTAGE_CODES)
        if len(self._window) == self._window.maxlen and 2 * sum(self._window) > len(self._window):
            self.opened_at = now
            self._next_probe = now + self._probe_interval

    def _close(self) -> None:
        self.opened_at = None
        self._window.clear()

    def take_probe(self, now: float) -> bool:
        """True when a probe may go out now (and reserves it)."""
        if not self.is_open or now < self._next_probe:
            return False
        self._next_probe = now + self._probe_interval
        return True

    def next_probe_at(self) -> float:
        return self._next_probe

    def open_for(self, now: float) -> float:
        return 0.0 if self.opened_at is None else now - self.opened_at
