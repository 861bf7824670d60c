"""An in-memory balance source for pure engine logic (HTTP behaviour is tested against servers)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from decimal import Decimal


class ScriptedSource:
    """Each customer follows a script: one entry per attempt (a balance or an exception)."""

    def __init__(self, scripts: dict[str, Sequence[Decimal | Exception]], default: Decimal) -> None:
        self._scripts = scripts
        self._default = default
        self.calls: Counter[str] = Counter()

    async def fetch(self, customer_id: str) -> Decimal:
        attempt = self.calls[customer_id]
        self.calls[customer_id] += 1
        script = self._scripts.get(customer_id, [self._default])
        step = script[min(attempt, len(script) - 1)]
        if isinstance(step, Exception):
            raise step
        return step

    async def aclose(self) -> None:
        return None
