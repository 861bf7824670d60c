"""Where balances come from: the `BalanceSource` seam and the HTTP Balance API clients."""

from __future__ import annotations

from typing import TYPE_CHECKING

from balmon import lazy

if TYPE_CHECKING:
    from balmon.source.base import BalanceSource, Reading
    from balmon.source.clients import open_source
    from balmon.source.http import HttpBalanceSource
    from balmon.source.parse import parse_reading
    from balmon.source.reqwest import ReqwestBalanceSource
    from balmon.source.rules import retry_after_seconds

__all__ = [
    "BalanceSource",
    "HttpBalanceSource",
    "Reading",
    "ReqwestBalanceSource",
    "open_source",
    "parse_reading",
    "retry_after_seconds",
]

# Loaded when first used: the chosen client's HTTP library only (`source.clients`).
__getattr__ = lazy.members(
    __name__,
    {
        "BalanceSource": "base",
        "open_source": "clients",
        "HttpBalanceSource": "http",
        "Reading": "base",
        "parse_reading": "parse",
        "ReqwestBalanceSource": "reqwest",
        "retry_after_seconds": "rules",
    },
)
