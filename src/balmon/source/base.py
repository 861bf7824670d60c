"""The seam between the engine and wherever balances come from."""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol


class BalanceSource(Protocol):
    """Fetches one customer's balance, raising a `BalanceError` subclass on failure."""

    async def fetch(self, customer_id: str) -> Decimal:
        """One attempt: exactly one request to the bank, bounded by the attempt deadline."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...
