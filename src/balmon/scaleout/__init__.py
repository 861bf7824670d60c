"""A business date's run spread over several machines through Celery (docs/scale-out.md)."""

from __future__ import annotations

from sqlalchemy import Engine

from balmon.config import Settings
from balmon.engine.lease import Owner
from balmon.engine.processes import fetchers_for
from balmon.engine.run import Fetchers


def executor_for(
    settings: Settings, engine: Engine, *, owner: Owner | None = None
) -> Fetchers | None:
    """Where the run's customers are verified: Celery workers (`engine.executor = "celery"`,
    refused in one line when unsafe), this machine's fetcher processes, or this process."""
    if settings.engine.executor == "celery":
        from balmon.scaleout.coordinator import CeleryExecutor

        # The workers write under the run's lease, so they must know who holds it.
        return CeleryExecutor(settings, engine, owner=owner)
    return fetchers_for(settings)
