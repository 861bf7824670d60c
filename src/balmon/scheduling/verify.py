"""One business date verified in this process: what `balmon run` does, and what the run
process that `serve` and `scheduler` start for each date does (`scheduling.child`)."""

from __future__ import annotations

import asyncio

from balmon.alerts import AlertPipeline
from balmon.clock import SystemClock
from balmon.config import Settings
from balmon.engine import RunRequest, RunSummary, VerificationRun
from balmon.engine.run import OpenHook
from balmon.errors import ConfigError
from balmon.quality import DayChecks
from balmon.scaleout import executor_for
from balmon.source.clients import open_source
from balmon.storage import engine_for, ensure_schema, watch


async def verify_date(
    settings: Settings, request: RunRequest, *, on_open: OpenHook | None = None
) -> RunSummary:
    """Claim the date's lease, verify (or resume) it and return its summary."""
    if settings.source.url is None:
        raise ConfigError("source.url", "required to fetch balances")
    engine = engine_for(settings.database, read_cache=False)
    # A server that stops answering ends the run in bounded time, loop or no loop.
    watching = watch.install(engine, settings.database.statement_timeout_seconds)
    await asyncio.to_thread(ensure_schema, engine)
    source = open_source(settings.source, concurrency=settings.engine.concurrency)
    try:
        alerts = AlertPipeline(
            engine=engine,
            settings=settings.alerts,
            clock=SystemClock(),
            regression_days=settings.triage.regression_days,
            escalation=settings.escalation,
            digest=settings.digest,
            timezone=settings.schedule.timezone,
        )
        run = VerificationRun(
            settings=settings,
            engine=engine,
            source=source,
            alerts=alerts,
            fetchers=executor_for(settings, engine),
            day_checks=DayChecks(engine=engine, settings=settings, clock=SystemClock()),
        )
        return await run.execute(request, on_open=on_open)
    finally:
        await source.aclose()
        engine.dispose()
        if watching is not None:
            watching.stop()
