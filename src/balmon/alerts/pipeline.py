"""Group a run's alerts, deliver them with retries, and never lose one.

All database work here is short and runs on the event loop's thread (as the run's writer
does); only the channel deliveries wait on the network.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Row, func, select

from balmon.alerts import outbox
from balmon.alerts.channels import (
    AppriseNotifier,
    Channel,
    DeliveryError,
    Notifier,
    parse_channels,
    route,
)
from balmon.alerts.content import render_summary, render_test
from balmon.clock import Clock
from balmon.config.settings import AlertSettings
from balmon.storage.schema import verification_results, verification_runs

log = logging.getLogger("balmon.alerts")
_PARALLEL_DELIVERIES = 8


@dataclass(frozen=True, slots=True)
class FlushReport:
    messages: int
    sent: int
    pending: int
    failed: int

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class AlertPipeline:
    """The run's alerting: `watch` during the run, `finish` at its end."""

    def __init__(
        self,
        *,
        engine: Engine,
        settings: AlertSettings,
        clock: Clock,
        notifier: Notifier | None = None,
    ) -> None:
        self._engine = engine
        self._settings = settings
        self._clock = clock
        self._notifier = notifier or AppriseNotifier()
        self._channels = parse_channels(settings.urls)
        self._by_name = {c.name: c for c in self._channels}
        self._messages = 0
        self._round: asyncio.Future[None] | None = None

    async def watch(self, run_id: int) -> None:
        """Send each group once its first alert waited `group_wait_seconds` (until cancelled)."""
        while True:
            await self._clock.sleep(min(1.0, self._settings.group_wait_seconds or 1.0))
            wait = timedelta(seconds=self._settings.group_wait_seconds)
            if self._group(run_id=run_id, older_than=self._clock.now() - wait):
                # Shielded: cancelling the watch between a send and its record would send the
                # message again at `finish`; `finish` awaits this round instead.
                self._round = asyncio.ensure_future(self._deliver_pending(attempts=1))
                await asyncio.shield(self._round)

    async def finish(self, run_id: int, *, summary: bool | None = None) -> dict[str, int]:
        """Wait out the newest group's wait, group the rest, deliver with retries; report counts."""
        if self._round is not None:
            await self._round
        await self._wait_for_group(run_id)
        self._group(run_id=run_id, older_than=None)
        if summary if summary is not None else self._settings.summary:
            self._summary(run_id)
        await self._deliver_pending(attempts=self._settings.delivery_attempts)
        with self._engine.connect() as connection:
            counts = outbox.delivery_counts(connection, run_id)
        return FlushReport(
            self._messages, counts.get("sent", 0), counts.get("pending", 0), counts.get("failed", 0)
        ).as_dict()

    async def _wait_for_group(self, run_id: int) -> None:
        with self._engine.connect() as connection:
            oldest = outbox.oldest_ungrouped(connection, run_id)
        if oldest is not None:
            due = oldest + timedelta(seconds=self._settings.group_wait_seconds)
            remaining = (due - self._clock.now()).total_seconds()
            if remaining > 0:
                await self._clock.sleep(remaining)

    def _group(self, *, run_id: int | None, older_than: datetime | None) -> int:
        made = 0
        with self._engine.connect() as connection:
            keys = outbox.ready_groups(connection, older_than=older_than, run_id=run_id)
        for key in keys:
            with contextlib.suppress(outbox.GroupTaken), self._engine.begin() as connection:
                outbox.group(
                    connection,
                    key,
                    settings=self._settings,
                    channels=self._channels,
                    now=self._clock.now(),
                )
                made += 1
        self._messages += made
        return made

    def _summary(self, run_id: int) -> None:
        with self._engine.begin() as connection:
            run = connection.execute(
                select(verification_runs).where(verification_runs.c.id == run_id)
            ).one()
            r = verification_results.c
            counts: dict[str, int] = dict(
                connection.execute(
                    select(r.status, func.count()).where(r.run_id == run_id).group_by(r.status)
                ).all()
            )
            by_code: dict[str, int] = dict(
                connection.execute(
                    select(r.error_code, func.count())
                    .where(r.run_id == run_id, r.status == "UNAVAILABLE")
                    .group_by(r.error_code)
                ).all()
            )
            end = run.finished_at or self._clock.now()
            rendered = render_summary(
                business_date=run.business_date,
                run_id=run_id,
                counts=counts,
                by_code=by_code,
                duration=(end - run.started_at).total_seconds(),
                dashboard_url=self._settings.dashboard_url,
            )
            key = outbox.GroupKey(run_id, run.business_date, None)
            outbox.add_message(
                connection,
                rendered,
                kind="summary",
                now=self._clock.now(),
                count=sum(counts.values()),
                channels=route(self._channels, "SUMMARY", self._settings.routes),
                key=key,
            )
        self._messages += 1

    async def _deliver_pending(self, *, attempts: int) -> None:
        for attempt in range(attempts):
            with self._engine.connect() as connection:
                todo = outbox.pending(connection)
            if not todo:
                return
            if attempt:
                await self._clock.sleep(
                    self._settings.delivery_backoff_seconds * 2 ** (attempt - 1)
                )
            limit = asyncio.Semaphore(_PARALLEL_DELIVERIES)
            await asyncio.gather(*(self._deliver(row, limit) for row in todo))

    async def _deliver(self, row: Row[Any], limit: asyncio.Semaphore) -> None:
        channel = self._by_name.get(row.channel)
        now = self._clock.now()
        with self._engine.begin() as connection:
            if not outbox.claim(connection, row.id, row.attempts, now):
                return
            if channel is None:
                outbox.settle(
                    connection,
                    row.id,
                    status="failed",
                    error="channel no longer configured",
                    now=now,
                )
                return
        status, error = await self._send(channel, row, limit)
        with self._engine.begin() as connection:
            outbox.settle(connection, row.id, status=status, error=error, now=self._clock.now())

    async def _send(
        self, channel: Channel, row: Row[Any], limit: asyncio.Semaphore
    ) -> tuple[str, str | None]:
        body = row.short_body if channel.is_sms and row.short_body else row.body
        async with limit:
            try:
                await self._notifier.send(channel, row.title, body)
            except DeliveryError as exc:
                log.warning(
                    "alert delivery failed", extra={"channel": channel.name, "reason": str(exc)}
                )
                return "pending", str(exc)[:300]
        return "sent", None

    async def send_test(self) -> dict[str, str | None]:
        """Send a test message to every channel; return each channel's error (None when sent)."""
        with self._engine.begin() as connection:
            message_id = outbox.add_message(
                connection,
                render_test(),
                kind="test",
                now=self._clock.now(),
                count=0,
                channels=self._channels,
            )
        await self._deliver_pending_of(message_id)
        with self._engine.connect() as connection:
            return {
                row.channel: (None if row.status == "sent" else row.last_error or row.status)
                for row in outbox.deliveries_of(connection, message_id)
            }

    async def _deliver_pending_of(self, message_id: int) -> None:
        with self._engine.connect() as connection:
            todo = outbox.pending(connection, [message_id])
        limit = asyncio.Semaphore(_PARALLEL_DELIVERIES)
        await asyncio.gather(*(self._deliver(row, limit) for row in todo))

    async def flush(self) -> FlushReport:
        """Group every waiting alert now and retry every pending delivery."""
        self._group(run_id=None, older_than=None)
        await self._deliver_pending(attempts=self._settings.delivery_attempts)
        with self._engine.connect() as connection:
            counts = outbox.delivery_counts(connection)
        return FlushReport(
            self._messages, counts.get("sent", 0), counts.get("pending", 0), counts.get("failed", 0)
        )
