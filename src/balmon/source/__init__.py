"""Where balances come from: the `BalanceSource` seam and the HTTP Balance API client."""

from __future__ import annotations

from balmon.source.base import BalanceSource
from balmon.source.http import HttpBalanceSource, retry_after_seconds
from balmon.source.parse import parse_balance

__all__ = ["BalanceSource", "HttpBalanceSource", "parse_balance", "retry_after_seconds"]
