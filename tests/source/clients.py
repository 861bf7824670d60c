"""Every test of the HTTP contract runs against each client `source.client` offers."""

from __future__ import annotations

from balmon.config.settings import SourceSettings
from balmon.source import BalanceSource, open_source

CLIENTS = ("reqwest", "aiohttp")
_chosen = {"client": CLIENTS[0]}


def choose(client: str) -> None:
    _chosen["client"] = client


def source(settings: SourceSettings, *, concurrency: int) -> BalanceSource:
    """The client the running test was parametrized with, on these settings."""
    chosen = settings.model_copy(update={"client": _chosen["client"]})
    return open_source(chosen, concurrency=concurrency)
