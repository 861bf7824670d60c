"""Start a business date's run inside this process (for the scheduler and the dashboard).

The claim is the same database lease `balmon run` takes, so a date is verified once however
many processes try. `start` returns as soon as the claim is decided, with the real outcome
(running, already completed, held by another process, or failed with its reason); the run
itself goes on in a task of this process's event loop.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from sqlalchemy import Engine

from balmon import limits
from balmon.alerts import AlertPipeline
from balmon.clock import Clock, SystemClock
from balmon.config import Settings
from balmon.engine import RunRequest, VerificationRun
from balmon.engine.lease import AlreadyCompleted, OpenedRun, Owner
from balmon.errors import BalmonError, ConfigError, RunRefused
from balmon.scaleout import executor_for
from balmon.source.clients import open_source
from balmon.storage.statements import failure_reason

log = logging.getLogger("balmon.scheduling")


class LaunchState(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    ALREADY_COMPLETED = "already completed"
    REFUSED = "refused"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


@dataclass(frozen=True, slots=True)
class Launch:
    business_date: date
    state: LaunchState
    run_id: int | None = None
    reason: str | None = None

    def describe(self) -> str:
        run = f" (run {self.run_id})" if self.run_id is not None else ""
        why = f": {self.reason}" if self.reason else ""
        return f"run for {self.business_date} {self.state.value}{run}{why}"


class RunLauncher:
    """Runs business dates in this process, one task per date."""

    def __init__(
        self,
        *,
        settings: Settings,
        engine: Engine,
        clock: Clock | None = None,
        owner: Owner | None = None,
    ) -> None:
        self._settings = settings
        self._engine = engine
        self._clock = clock or SystemClock()
        self._owner = owner or Owner.me()
        self._tasks: dict[date, asyncio.Task[Launch]] = {}

    def running(self) -> list[date]:
        """Dates whose run is going on in this process."""
        return sorted(day for day, task in self._tasks.items() if not task.done())

    async def start(self, day: date) -> Launch:
        """Claim and start the date's run; return once the claim is decided."""
        if day in self.running():
            return Launch(day, LaunchState.REFUSED, reason="already running in this process")
        opened: asyncio.Future[OpenedRun | AlreadyCompleted] = (
            asyncio.get_running_loop().create_future()
        )
        task = asyncio.create_task(self._execute(day, opened), name=f"run {day}")
        self._tasks[day] = task
        waiting: set[asyncio.Future[object]] = {opened, task}  # type: ignore[arg-type]
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        if not opened.done():
            if task.cancelled():
                return Launch(day, LaunchState.INTERRUPTED)
            return task.result()
        claim = opened.result()
        if isinstance(claim, AlreadyCompleted):
            return Launch(day, LaunchState.ALREADY_COMPLETED, claim.run_id)
        return Launch(day, LaunchState.RUNNING, claim.run_id)

    async def run(self, day: date) -> Launch:
        """Claim, run and wait for the end of the date's run."""
        first = await self.start(day)
        if first.state is not LaunchState.RUNNING:
            return first
        return await self._tasks[day]

    async def stop(self) -> None:
        """Interrupt every run of this process; each commits its work and marks itself."""
        tasks = [task for task in self._tasks.values() if not task.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _execute(
        self, day: date, opened: asyncio.Future[OpenedRun | AlreadyCompleted]
    ) -> Launch:
        try:
            return await self._verify(day, opened)
        except RunRefused as exc:
            return Launch(day, LaunchState.REFUSED, reason=str(exc))
        except ConfigError as exc:
            return Launch(day, LaunchState.FAILED, reason=f"config error: {exc}")
        except BalmonError as exc:
            return Launch(day, LaunchState.FAILED, reason=limits.clip(str(exc), limits.REASON))
        except asyncio.CancelledError:
            # Re-raised, not returned: a caller awaiting this run (the scheduler's queue) is
            # being stopped too, and a swallowed cancellation would let it start the next date.
            log.info("run interrupted", extra={"business_date": day.isoformat()})
            raise
        except Exception as exc:
            log.exception("run crashed", extra={"business_date": day.isoformat()})
            return Launch(
                day,
                LaunchState.FAILED,
                reason=failure_reason(exc),
            )

    async def _verify(
        self, day: date, opened: asyncio.Future[OpenedRun | AlreadyCompleted]
    ) -> Launch:
        settings = self._settings
        if settings.source.url is None:
            raise ConfigError("source.url", "required to fetch balances")
        source = open_source(settings.source, concurrency=settings.engine.concurrency)
        alerts = AlertPipeline(
            engine=self._engine,
            settings=settings.alerts,
            clock=self._clock,
            regression_days=settings.triage.regression_days,
        )
        run = VerificationRun(
            settings=settings,
            engine=self._engine,
            source=source,
            clock=self._clock,
            alerts=alerts,
            owner=self._owner,
            fetchers=executor_for(settings, self._engine, owner=self._owner),
        )
        try:
            summary = await run.execute(RunRequest(day), on_open=opened.set_result)
        finally:
            await source.aclose()
        state = (
            LaunchState.ALREADY_COMPLETED if summary.already_completed else LaunchState.COMPLETED
        )
        return Launch(day, state, summary.run_id)
