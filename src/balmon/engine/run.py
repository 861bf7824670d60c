"""The daily verification run: open the date's run, work through every customer, close it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from datetime import date
from functools import partial
from pathlib import Path
from typing import Protocol, TextIO

from sqlalchemy import Engine

from balmon import logs
from balmon.audit import Segment
from balmon.clock import Clock, SystemClock
from balmon.config import Settings
from balmon.engine import inputs
from balmon.engine.crew import build_crew
from balmon.engine.customers import Customer, check_file, count_rows
from balmon.engine.lease import (
    AlreadyCompleted,
    Mode,
    OpenedRun,
    Owner,
    close_run,
    heartbeat,
    open_run,
)
from balmon.engine.progress import Progress
from balmon.engine.records import RecordSink
from balmon.engine.summary import RunSummary, summarize
from balmon.engine.worker import Tally
from balmon.engine.writer import BatchWriter
from balmon.errors import ConfigError, ErrorCode, LeaseLost
from balmon.source import BalanceSource
from balmon.storage.statements import failure_reason
from balmon.storage.states import RunKind, RunStatus

log = logging.getLogger("balmon.engine")


class DeliveryCounts(Protocol):
    def as_dict(self) -> dict[str, int]:
        """Deliveries by state, for the run's summary."""
        ...


class AlertHook(Protocol):
    """What the run needs from the alerting module (`alerts.AlertPipeline`)."""

    async def watch(self, run_id: int) -> None:
        """Send alert groups as they mature during the run (until cancelled)."""
        ...

    async def finish(self, summary: RunSummary) -> DeliveryCounts:
        """Deliver the run's alerts (after the group wait), with the run's own summary."""
        ...

    async def owed(self, run_id: int) -> DeliveryCounts:
        """Deliver what a completed run's process died before delivering."""
        ...


OpenHook = Callable[[OpenedRun | AlreadyCompleted], None]


class DayHook(Protocol):
    """What the run needs from the day rules (`quality.DayChecks`): judge the completed
    date as a whole, raising its alarms (once per date and rule, however often called)."""

    def check(self, business_date: date, run_id: int) -> object: ...


@dataclass(frozen=True, slots=True)
class RunRequest:
    business_date: date
    mode: Mode = "normal"
    customers_file: Path | None = None


class Fetchers(Protocol):
    """Where a run's customers are verified when not in this process: fetcher processes on
    this machine (`engine.processes`), or Celery workers (`balmon.scaleout`)."""

    # False when the run must hand over every accepted customer of the file, done or not
    # (a distributed run numbers its chunks by the whole file).
    skips_done: bool

    async def run(
        self,
        *,
        run_id: int,
        business_date: str,
        customers: Iterator[Customer],
        sink: RecordSink,
        tally: Tally,
    ) -> None: ...


class VerificationRun:
    """Runs one business date's verification against a balance source."""

    def __init__(
        self,
        *,
        settings: Settings,
        engine: Engine,
        source: BalanceSource,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        alerts: AlertHook | None = None,
        progress_stream: TextIO | None = None,
        owner: Owner | None = None,
        fetchers: Fetchers | None = None,
        day_checks: DayHook | None = None,
    ) -> None:
        """`fetchers`: fetch elsewhere (this machine's fetcher processes, or Celery workers),
        each with its own source built from the settings, instead of through `source` here."""
        self._settings = settings
        self._engine = engine
        self._source = source
        self._clock = clock or SystemClock()
        self._rng = rng or random.Random()
        self._alerts = alerts
        self._stream = progress_stream
        self._owner = owner or Owner.me()
        self._fetchers = fetchers
        self._day_checks = day_checks

    async def execute(self, request: RunRequest, *, on_open: OpenHook | None = None) -> RunSummary:
        """Run (or resume) the date; returns the summary. Completed dates are not run again.

        `on_open` learns the claim's outcome as soon as the date's lease is taken, so a caller
        that starts the run in the background can report it before the run ends.
        """
        path = self._customers_path(request)
        opened = await asyncio.to_thread(self._open, request, path)
        if on_open is not None:
            on_open(opened)
        if isinstance(opened, AlreadyCompleted):
            summary = await asyncio.to_thread(summarize, self._engine, opened.run_id)
            summary = replace(summary, already_completed=True)
            # A process that died between completing the date and judging it: judged now.
            await self._check_day(request.business_date, opened.run_id)
            if self._alerts is not None:
                # A run is completed before its alerts go out: a crash in between leaves them
                # to whoever next runs the date (or the scheduler's flush), never to no one.
                delivery = await self._alerts.owed(opened.run_id)
                summary = replace(summary, alerts_delivery=delivery.as_dict())
            return summary
        logs.bind(run_id=opened.run_id, business_date=request.business_date.isoformat())
        log.info("run started", extra={"resumed": opened.resumed})
        writer = self._writer(opened, request.business_date)
        try:
            await self._work(opened, request.business_date, path, writer)
        except BaseException as exc:
            await self._abandon(opened, request.business_date, exc, writer.segments())
            raise
        return await self._complete(opened, request.business_date, writer.segments())

    def _customers_path(self, request: RunRequest) -> Path | None:
        if request.mode == "retry_unavailable":
            return None
        path = request.customers_file or self._settings.verification.customers_file
        if path is None:
            raise ConfigError(
                "verification.customers_file", "no customer file: set it or pass --customers"
            )
        if not path.is_file():
            raise ConfigError("verification.customers_file", f"file not found: {path}")
        check_file(path, allow_empty=self._settings.verification.allow_empty)
        return path

    def _open(self, request: RunRequest, path: Path | None) -> OpenedRun | AlreadyCompleted:
        return open_run(
            self._engine,
            business_date=request.business_date,
            mode=request.mode,
            customers_file=str(path) if path else None,
            me=self._owner,
            clock=self._clock.now,
            stale_after=self._settings.engine.stale_after_seconds,
        )

    def _writer(self, opened: OpenedRun, day: date) -> BatchWriter:
        settings = self._settings
        return BatchWriter(
            engine=self._engine,
            run_id=opened.run_id,
            business_date=day,
            clock=self._clock,
            interval=settings.engine.commit_interval_seconds,
            max_batch=settings.engine.write_batch_size,
            resumed=opened.resumed,
            owner=self._owner,
        )

    async def _work(
        self, opened: OpenedRun, day: date, path: Path | None, writer: BatchWriter
    ) -> None:
        settings = self._settings
        customers, total = await asyncio.to_thread(self._customers, opened, day, path, writer)
        tally = Tally()
        if self._fetchers is None:
            crew = build_crew(
                settings=settings,
                run_id=opened.run_id,
                source=self._source,
                customers=customers,
                sink=writer,
                tally=tally,
                clock=self._clock,
                rng=self._rng,
                business_date=day,
            )
            fetching: Callable[[], Awaitable[None]] = crew.run
        else:
            fetchers = self._fetchers
            fetching = partial(
                fetchers.run,
                run_id=opened.run_id,
                business_date=day.isoformat(),
                customers=customers,
                sink=writer,
                tally=tally,
            )
        progress = Progress(tally=tally, total=total, clock=self._clock, stream=self._stream)
        # The writer lives outside the group: when the run is stopped (SIGTERM, Ctrl-C) the
        # workers are cancelled, but what they finished is still committed before the run
        # is marked interrupted.
        writing = asyncio.create_task(writer.run())
        try:
            async with _first_error(), asyncio.TaskGroup() as group:
                beat = group.create_task(self._heartbeat(opened.run_id, day))
                shown = group.create_task(progress.run())
                # A failing writer (database gone) must stop the workers, as a group member would.
                watched = group.create_task(_raise_if_fails(writing))
                helpers = [beat, shown, watched]
                if self._alerts is not None:
                    helpers.append(group.create_task(self._alerts.watch(opened.run_id)))
                await fetching()
                for task in helpers:
                    task.cancel()
        finally:
            writer.stop()
            await asyncio.shield(writing)

    def _customers(
        self, opened: OpenedRun, day: date, path: Path | None, writer: BatchWriter
    ) -> tuple[Iterator[Customer], int | None]:
        customers, total = self._listed(opened, day, path, writer)
        if self._fetchers is None and self._settings.quality.on(ErrorCode.BALANCE_JUMP):
            # Fetcher processes and Celery workers read them for their own customers.
            customers = inputs.PreviousBalances.of(self._engine, day).stream(customers)
        return customers, total

    def _listed(
        self, opened: OpenedRun, day: date, path: Path | None, writer: BatchWriter
    ) -> tuple[Iterator[Customer], int | None]:
        if opened.kind == RunKind.RETRY_UNAVAILABLE:
            total = inputs.count_unavailable(self._engine, business_date=day, run_id=opened.run_id)
            return inputs.unavailable_on(
                self._engine, business_date=day, run_id=opened.run_id
            ), total
        assert path is not None
        try:
            done = inputs.count_done(self._engine, opened.run_id) if opened.resumed else 0
            total = count_rows(path) - done
        except OSError as exc:
            raise ConfigError("verification.customers_file", f"cannot read {path}") from exc
        customers = inputs.from_file(
            engine=self._engine,
            run_id=opened.run_id,
            path=path,
            default_min=self._settings.verification.default_min_balance,
            resumed=opened.resumed,
            reject=writer.add_error,
            now=self._clock.now,
            skip_done=self._fetchers is None or self._fetchers.skips_done,
        )
        return customers, max(total, 0)

    async def _heartbeat(self, run_id: int, day: date) -> None:
        while True:
            await asyncio.sleep(self._settings.engine.heartbeat_seconds)
            # On the loop's thread, like the writer: one connection at a time, no GIL convoy.
            heartbeat(
                self._engine,
                business_date=day,
                run_id=run_id,
                me=self._owner,
                now=self._clock.now(),
            )

    async def _complete(self, opened: OpenedRun, day: date, written: list[Segment]) -> RunSummary:
        now = self._clock.now()
        summary = await asyncio.to_thread(summarize, self._engine, opened.run_id, finished_at=now)
        await asyncio.to_thread(
            close_run,
            self._engine,
            business_date=day,
            run_id=opened.run_id,
            me=self._owner,
            status=RunStatus.COMPLETED,
            now=now,
            counts=summary.counts(),
            segments=written,
        )
        summary = replace(summary, status=RunStatus.COMPLETED, resumed=opened.resumed)
        await self._check_day(day, opened.run_id)
        if self._alerts is not None:
            delivery = await self._alerts.finish(summary)
            summary = replace(summary, alerts_delivery=delivery.as_dict())
        log.info("run completed", extra={"run_id": opened.run_id, "customers": summary.total})
        return summary

    async def _check_day(self, day: date, run_id: int) -> None:
        """Before the run's alerts go: a STALE_FEED alarm takes the date's stale alerts in."""
        if self._day_checks is None:
            return
        try:
            await asyncio.to_thread(self._day_checks.check, day, run_id)
        except Exception:
            # The date is completed whatever its figures say; running it again judges it.
            log.exception("day rules failed", extra={"run_id": run_id})

    async def _abandon(
        self, opened: OpenedRun, day: date, exc: BaseException, written: list[Segment]
    ) -> None:
        if isinstance(exc, LeaseLost):
            # The run is not this process's to close: it goes on in the one that took it.
            log.warning("run moved", extra={"run_id": opened.run_id, "reason": str(exc)})
            return
        interrupted = isinstance(exc, asyncio.CancelledError | KeyboardInterrupt)
        status = RunStatus.INTERRUPTED if interrupted else RunStatus.FAILED
        reason = "interrupted" if interrupted else failure_reason(exc)
        with contextlib.suppress(Exception):
            await asyncio.shield(
                asyncio.to_thread(
                    close_run,
                    self._engine,
                    business_date=day,
                    run_id=opened.run_id,
                    me=self._owner,
                    status=status,
                    now=self._clock.now(),
                    counts={},
                    reason=reason,
                    segments=written,
                )
            )
        level = logging.WARNING if interrupted else logging.ERROR
        log.log(level, "run %s", status, extra={"run_id": opened.run_id, "reason": reason})


async def _raise_if_fails(task: asyncio.Task[None]) -> None:
    await asyncio.shield(task)


@contextlib.asynccontextmanager
async def _first_error() -> AsyncIterator[None]:
    """Raise the error that stopped the run's task group itself, not an `ExceptionGroup`.

    The group's other members are cancelled by then, so its first error is the cause; the
    CLI's one error handler and the run's failure reason then see a `BalmonError` as such.
    """
    try:
        yield
    except BaseExceptionGroup as group:
        first = group.exceptions[0]
        while isinstance(first, BaseExceptionGroup):
            first = first.exceptions[0]
        # Keeps the error's own cause (the driver's exception) and drops the group.
        raise first from first.__cause__
