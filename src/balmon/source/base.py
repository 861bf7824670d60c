"""The seam between the engine and wherever balances come from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Reading:
    """What one answer said about a balance: the amount (None when the bank reports none),
    its currency and when it was taken (each None when the answer does not say). The source
    parses; the verification rules (`balmon.rules`) judge."""

    balance: Decimal | None
    currency: str | None = None
    as_of: datetime | None = None


class BalanceSource(Protocol):
    """Fetches one customer's balance, raising a `BalanceError` subclass on failure."""

    async def fetch(self, customer_id: str) -> Reading:
        """One attempt: exactly one request to the bank, bounded by the attempt deadline."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...
