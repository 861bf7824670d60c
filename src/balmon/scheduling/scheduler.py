"""The scheduler loop: run each due business date once, raise the missed/failed alarm, flush
pending alerts, apply retention weekly (`retention.auto`), and record its own heartbeat for
the dashboard and Prometheus.

It wakes at each cron firing and at least every `engine.heartbeat_seconds`. Dates are claimed
through the run lease, so any number of schedulers (and hand-started runs) can share a
database: a completed date is skipped, a live run elsewhere is left alone, and a run whose
owner stopped renewing its lease is taken over and resumed at the next firing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import date, datetime, timedelta

from sqlalchemy import Engine

from balmon.alerts import AlertPipeline, Notifier
from balmon.clock import Clock, SystemClock
from balmon.config import Settings
from balmon.engine.lease import Owner
from balmon.engine.state import DateState, completed_dates, date_status
from balmon.errors import RetentionError
from balmon.retention import apply as apply_retention
from balmon.retention.apply import last_applied
from balmon.scheduling import instances
from balmon.scheduling.alarms import Alarm, raise_alarm
from balmon.scheduling.calendar import Schedule
from balmon.scheduling.launcher import LaunchState, RunLauncher
from balmon.storage.states import AlarmReason

log = logging.getLogger("balmon.scheduling")
RETENTION_EVERY = timedelta(days=7)
# How often a scheduler looks whether retention is due (or tries again after a refusal).
RETENTION_CHECK = timedelta(hours=1)


class Scheduler:
    """One scheduler instance; several may share a database."""

    def __init__(
        self,
        *,
        settings: Settings,
        engine: Engine,
        launcher: RunLauncher,
        clock: Clock | None = None,
        notifier: Notifier | None = None,
        owner: Owner | None = None,
    ) -> None:
        self._settings = settings
        self._engine = engine
        self._launcher = launcher
        self._clock = clock or SystemClock()
        self._schedule = Schedule(settings.schedule)
        self._alerts = AlertPipeline(
            engine=engine,
            settings=settings.alerts,
            clock=self._clock,
            notifier=notifier,
            regression_days=settings.triage.regression_days,
            escalation=settings.escalation,
            digest=settings.digest,
            timezone=settings.schedule.timezone,
        )
        me = owner or Owner.me()
        self.name = f"{me.host}:{me.pid}"
        self._queue: list[date] = []
        self._worker: asyncio.Task[None] | None = None
        self._raised: set[tuple[date, AlarmReason]] = set()
        self._next_firing: datetime | None = None
        self._next_flush: datetime | None = None
        self._next_retention_check: datetime | None = None

    async def run(self) -> None:
        """Work until cancelled; on cancellation interrupt this instance's run cleanly."""
        now = self._clock.now()
        await asyncio.to_thread(instances.register, self._engine, self.name, now)
        self._enqueue_due(now)
        self._next_firing = self._schedule.next_firing(now)
        self._next_flush = now
        log.info("scheduler started", extra={"scheduler": self.name})
        try:
            while True:
                try:
                    await self.tick()
                except Exception:  # the database may be back at the next pass
                    log.exception("scheduler pass failed", extra={"scheduler": self.name})
                await self._clock.sleep(self._sleep_seconds())
        finally:
            await self._stop()

    async def tick(self) -> None:
        """One pass: fire if due, start queued dates, check alarms, flush, heartbeat."""
        now = self._clock.now()
        assert self._next_firing is not None
        assert self._next_flush is not None
        fired = now >= self._next_firing
        if fired:
            self._enqueue_due(now)
            self._next_firing = self._schedule.next_firing(now)
        self._drain()
        await asyncio.to_thread(self._check_alarms, now)
        escalated = await asyncio.to_thread(self._alerts.escalate)
        if escalated or await asyncio.to_thread(self._alerts.send_digest):
            self._next_flush = now  # an escalation or the digest goes out on this pass
        if now >= self._next_flush:
            # Set before flushing: an alarm raised meanwhile (by the queue's task, in a thread)
            # asks for the next pass to flush, and that request must not be overwritten.
            self._next_flush = now + timedelta(seconds=self._settings.alerts.flush_interval_seconds)
            await self._flush()
        if self._settings.retention.auto and (
            self._next_retention_check is None or now >= self._next_retention_check
        ):
            self._next_retention_check = now + RETENTION_CHECK
            await asyncio.to_thread(self._retention, now)
        await asyncio.to_thread(self._beat, now, fired)

    def _sleep_seconds(self) -> float:
        assert self._next_firing is not None
        until_firing = (self._next_firing - self._clock.now()).total_seconds()
        return max(0.0, min(until_firing, self._settings.engine.heartbeat_seconds))

    def _enqueue_due(self, now: datetime) -> None:
        due = self._schedule.due_dates(now)
        with self._engine.connect() as connection:
            done = completed_dates(connection, due)
        busy = set(self._launcher.running()) | set(self._queue)
        self._queue += [day for day in due if day not in done and day not in busy]

    def _drain(self) -> None:
        if self._queue and (self._worker is None or self._worker.done()):
            self._worker = asyncio.create_task(self._work_through_queue(), name="catch-up")

    async def _work_through_queue(self) -> None:
        # One date at a time, oldest first: a day's run gets the whole connection budget.
        while self._queue:
            day = self._queue.pop(0)
            launch = await self._launcher.run(day)
            extra = {"business_date": day.isoformat(), "run_id": launch.run_id}
            log.info(launch.describe(), extra=extra)
            if launch.state is LaunchState.FAILED:
                detail = f"the run could not complete: {launch.reason}"
                await asyncio.to_thread(
                    self._alarm, Alarm(day, AlarmReason.FAILED, detail), self._clock.now()
                )

    def _check_alarms(self, now: datetime) -> None:
        stale = self._settings.engine.stale_after_seconds
        for day in self._schedule.due_dates(now):
            with self._engine.connect() as connection:
                status = date_status(connection, day, now=now, stale_after=stale)
            if status.state is DateState.FAILED:
                self._alarm(Alarm(day, AlarmReason.FAILED, status.describe()), now)
            elif status.state is not DateState.COMPLETED and self._schedule.overdue(day, now):
                deadline = self._schedule.deadline_of(day)
                assert deadline is not None
                detail = f"not completed by the deadline {deadline:%Y-%m-%d %H:%M}Z; "
                self._alarm(Alarm(day, AlarmReason.MISSED, detail + status.describe()), now)

    def _alarm(self, alarm: Alarm, now: datetime) -> None:
        key = (alarm.business_date, alarm.reason)
        if key in self._raised:
            return
        self._raised.add(key)
        if raise_alarm(
            self._engine, alarm, settings=self._settings.alerts, raised_by=self.name, now=now
        ):
            log.error(
                "run alarm raised",
                extra={"business_date": alarm.business_date.isoformat(), "reason": alarm.reason},
            )
            self._next_flush = now  # deliver it now, not at the next flush interval

    async def _flush(self) -> None:
        try:
            report = await self._alerts.flush()
        except Exception:  # a broken channel must not stop the schedule
            log.exception("alert flush failed")
            return
        if report.messages or report.sent:
            log.info("alerts flushed", extra=report.as_dict())

    def _retention(self, now: datetime) -> None:
        """Apply retention when a week has passed since the last application (by any
        instance or by hand), never while a run is writing (SQLite has one writer)."""
        if self._launcher.running() or self._queue:
            return
        with self._engine.connect() as connection:
            last = last_applied(connection)
        if last is not None and now - last < RETENTION_EVERY:
            return
        try:
            applied = apply_retention(
                self._engine, self._settings.retention, now=now, actor=f"scheduler {self.name}"
            )
        except RetentionError as exc:
            log.error("retention not applied: %s", exc, extra={"scheduler": self.name})
            return
        rows = applied.rows()
        log.info(
            "retention applied",
            extra={"archive": str(applied.directory), "rows": sum(rows.values()), **rows},
        )

    def _beat(self, now: datetime, fired: bool) -> None:
        firing, day = self._schedule.next_business_date(now)
        instances.beat(
            self._engine,
            self.name,
            now=now,
            next_firing=firing,
            next_business_date=day,
            fired=fired,
        )

    async def _stop(self) -> None:
        self._queue.clear()  # nothing more is started, whatever finishes next
        if self._worker is not None:
            self._worker.cancel()
        await self._launcher.stop()
        if self._worker is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        with contextlib.suppress(Exception):
            await asyncio.shield(asyncio.to_thread(self._mark_stopped))
        log.info("scheduler stopped", extra={"scheduler": self.name})

    def _mark_stopped(self) -> None:
        instances.mark_stopped(self._engine, self.name, self._clock.now())
