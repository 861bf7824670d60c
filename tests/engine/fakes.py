"""An in-memory balance source for pure engine logic (HTTP behaviour is tested against servers)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from decimal import Decimal

from balmon.source import Reading

# What a bank that knows the customer but has no balance for it answers.
NULL = Reading(balance=None)

Step = Decimal | Reading | Exception


class ScriptedSource:
    """Each customer follows a script: one entry per attempt (a balance, a whole answer or an
    exception)."""

    def __init__(self, scripts: dict[str, Sequence[Step]], default: Decimal) -> None:
        self._scripts = scripts
        self._default = default
        self.calls: Counter[str] = Counter()

    async def fetch(self, customer_id: str) -> Reading:
        attempt = self.calls[customer_id]
        self.calls[customer_id] += 1
        script = self._scripts.get(customer_id, [self._default])
        step = script[min(attempt, len(script) - 1)]
        if isinstance(step, Exception):
            raise step
        return step if isinstance(step, Reading) else Reading(step)

    async def aclose(self) -> None:
        return None
