"""The one place that picks the HTTP client `source.client` names."""

from __future__ import annotations

from balmon.clock import Clock
from balmon.config.settings import SourceSettings
from balmon.source.base import BalanceSource


def open_source(
    settings: SourceSettings, *, concurrency: int, clock: Clock | None = None
) -> BalanceSource:
    """The client `source.client` names, with a pool of `concurrency` connections. Each is
    imported only when chosen: a fetcher process loads one HTTP library, not two.

    "auto" keeps a private CA's trust pinned: with `ca_file` set it is aiohttp, which trusts
    that CA alone (reqwest can only add it to the system's authorities)."""
    client = settings.client
    if client == "auto":
        client = "aiohttp" if settings.ca_file is not None else "reqwest"
    if client == "aiohttp":
        from balmon.source.http import HttpBalanceSource

        return HttpBalanceSource(settings=settings, concurrency=concurrency, clock=clock)
    from balmon.source.reqwest import ReqwestBalanceSource

    return ReqwestBalanceSource(settings=settings, concurrency=concurrency, clock=clock)
