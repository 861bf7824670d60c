"""Group alerts into messages, deliver them with retries, and never lose one.

One path serves a run's end (`finish`), the scheduler's and `balmon alerts flush`'s
periodic `flush` and `alerts test`: group what is waiting, then deliver every pending
delivery with `retry.Backoff` between rounds, then report counts as a `DeliveryReport`.
All database work here is short and runs on the event loop's thread (as the run's writer
does); only the channel deliveries wait on the network.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Engine, Row

from balmon import crashpoints, limits
from balmon.alerts import digest as digests
from balmon.alerts import escalation as escalations
from balmon.alerts import outbox
from balmon.alerts.channels import AppriseNotifier, Channel, Notifier, parse_channels, route
from balmon.alerts.content import render_summary, render_test
from balmon.clock import Clock
from balmon.config.settings import AlertSettings, DigestSettings, EscalationSettings
from balmon.crashpoints import Point
from balmon.errors import DeliveryError, GroupTaken
from balmon.retry import Backoff
from balmon.storage.states import DeliveryStatus, Status

log = logging.getLogger("balmon.alerts")
_PARALLEL_DELIVERIES = 8


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """Messages created by this pipeline, and deliveries by state (of one run, or all):
    `sending` are pending deliveries another process is sending at this moment."""

    messages: int
    sent: int
    pending: int
    failed: int
    sending: int = 0

    @classmethod
    def of(cls, messages: int, counts: dict[str, int]) -> DeliveryReport:
        return cls(
            messages,
            counts.get(DeliveryStatus.SENT, 0),
            counts.get(DeliveryStatus.PENDING, 0),
            counts.get(DeliveryStatus.FAILED, 0),
            counts.get(outbox.SENDING, 0),
        )

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class RunFacts(Protocol):
    """What the end-of-run summary message says: the run's own counts, not a recount."""

    @property
    def run_id(self) -> int: ...
    @property
    def business_date(self) -> date: ...
    @property
    def passed(self) -> int: ...
    @property
    def failed(self) -> int: ...
    @property
    def unavailable(self) -> int: ...
    @property
    def by_code(self) -> dict[str, int]: ...
    @property
    def duration_seconds(self) -> float: ...


class AlertPipeline:
    """The run's alerting: `watch` during the run, `finish` at its end; `flush` any time."""

    def __init__(
        self,
        *,
        engine: Engine,
        settings: AlertSettings,
        clock: Clock,
        notifier: Notifier | None = None,
        regression_days: int = 30,
        escalation: EscalationSettings | None = None,
        digest: DigestSettings | None = None,
        timezone: str = "UTC",
    ) -> None:
        self._engine = engine
        self._regression_days = regression_days
        self._settings = settings
        self._clock = clock
        self._notifier = notifier or AppriseNotifier()
        self._channels = parse_channels(settings.urls)
        self._escalation = escalation
        self._digest = digest
        self._timezone = timezone
        # Every channel a pending delivery may name: an escalation or a digest queued by
        # another instance is delivered by whichever flushes first.
        extra = escalations.every_channel(escalation) if escalation else []
        extra += digests.channels(digest) if digest else []
        self._by_name = {c.name: c for c in [*self._channels, *extra]}
        self._backoff = Backoff.doubling(
            settings.delivery_backoff_seconds, settings.delivery_attempts - 1
        )
        self._messages = 0
        self._round: asyncio.Future[DeliveryReport] | None = None

    async def watch(self, run_id: int) -> None:
        """Send each group once its first alert waited `group_wait_seconds` (until cancelled)."""
        while True:
            await self._clock.sleep(min(1.0, self._settings.group_wait_seconds or 1.0))
            wait = timedelta(seconds=self._settings.group_wait_seconds)
            if self._group(run_id=run_id, older_than=self._clock.now() - wait):
                # Shielded: cancelling the watch between a send and its record would send the
                # message again at `finish`; `finish` awaits this round instead.
                self._round = asyncio.ensure_future(self._deliver(run_id=run_id, attempts=1))
                await asyncio.shield(self._round)

    async def finish(self, run: RunFacts) -> DeliveryReport:
        """Group what is still waiting and deliver it with retries; report.

        The run has raised its last alert, so its groups go now: waiting out
        `group_wait_seconds` would collect nothing more and only hold up the run's end."""
        if self._round is not None:
            await self._round
        self._group(run_id=run.run_id, older_than=None)
        if self._settings.summary:
            self._add_summary(run)
        return await self._deliver(run_id=run.run_id, attempts=self._settings.delivery_attempts)

    async def owed(self, run_id: int) -> DeliveryReport:
        """Group a completed run's waiting alerts and deliver every pending delivery: what its
        process died before sending (its summary message, if never made, is not remade)."""
        self._group(run_id=run_id, older_than=None)
        return await self._deliver(run_id=run_id, attempts=self._settings.delivery_attempts)

    def escalate(self) -> int:
        """Escalate the open cases nobody acknowledged that are due (`alerts.escalation`);
        how many. The messages go with the next delivery round."""
        if self._escalation is None:
            return 0
        done = escalations.escalate(
            self._engine,
            self._escalation,
            now=self._clock.now(),
            dashboard_url=self._settings.dashboard_url,
        )
        if done:
            log.warning("cases escalated", extra={"cases": done})
        return done

    def send_digest(self) -> bool:
        """Queue today's digest if its time has come and no instance queued it yet."""
        if self._digest is None:
            return False
        return digests.send_if_due(
            self._engine,
            self._digest,
            timezone=self._timezone,
            now=self._clock.now(),
            by=outbox.claimer(),
            dashboard_url=self._settings.dashboard_url,
        )

    async def flush(self) -> DeliveryReport:
        """Escalate what is due, queue the day's digest when due, group every waiting alert
        now and retry every pending delivery; report all."""
        self.escalate()
        self.send_digest()
        self._group(run_id=None, older_than=None)
        return await self._deliver(run_id=None, attempts=self._settings.delivery_attempts)

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
        await self._deliver_pending(attempts=1, message_ids=[message_id])
        with self._engine.connect() as connection:
            return {
                row.channel: (
                    None if row.status == DeliveryStatus.SENT else row.last_error or row.status
                )
                for row in outbox.deliveries_of(connection, message_id)
            }

    def _group(self, *, run_id: int | None, older_than: datetime | None) -> int:
        made = 0
        with self._engine.begin() as connection:
            held = outbox.hold_silenced(connection, self._clock.now())
        if held:
            log.info("alerts held back by silences", extra={"alerts": held})
        with self._engine.connect() as connection:
            keys = outbox.ready_groups(connection, older_than=older_than, run_id=run_id)
        for key in keys:
            with contextlib.suppress(GroupTaken), self._engine.begin() as connection:
                outbox.group(
                    connection,
                    key,
                    settings=self._settings,
                    channels=self._channels,
                    now=self._clock.now(),
                    regression_days=self._regression_days,
                )
                made += 1
        self._messages += made
        return made

    def _add_summary(self, run: RunFacts) -> None:
        counts = {
            Status.PASS: run.passed,
            Status.FAIL: run.failed,
            Status.UNAVAILABLE: run.unavailable,
        }
        rendered = render_summary(
            business_date=run.business_date,
            run_id=run.run_id,
            counts={status: n for status, n in counts.items() if n},
            by_code=run.by_code,
            duration=run.duration_seconds,
            dashboard_url=self._settings.dashboard_url,
        )
        with self._engine.begin() as connection:
            outbox.add_message(
                connection,
                rendered,
                kind="summary",
                now=self._clock.now(),
                count=sum(counts.values()),
                channels=route(self._channels, "SUMMARY", self._settings.routes),
                key=outbox.GroupKey(run.run_id, run.business_date, None),
            )
        self._messages += 1

    async def _deliver(self, *, run_id: int | None, attempts: int) -> DeliveryReport:
        await self._deliver_pending(attempts=attempts)
        with self._engine.connect() as connection:
            counts = outbox.delivery_counts(connection, run_id, now=self._clock.now())
        return DeliveryReport.of(self._messages, counts)

    async def _deliver_pending(
        self, *, attempts: int, message_ids: list[int] | None = None
    ) -> None:
        """Up to `attempts` rounds over the pending deliveries, waiting out the backoff between."""
        for attempt in range(attempts):
            with self._engine.connect() as connection:
                todo = outbox.pending(connection, self._clock.now(), message_ids)
            if not todo:
                return
            if attempt:
                await self._clock.sleep(self._backoff.delay(attempt, random.Random()))
            limit = asyncio.Semaphore(_PARALLEL_DELIVERIES)
            await asyncio.gather(*(self._deliver_one(row, limit) for row in todo))

    async def _deliver_one(self, row: Row[Any], limit: asyncio.Semaphore) -> None:
        channel = self._by_name.get(row.channel)
        now = self._clock.now()
        with self._engine.begin() as connection:
            if not outbox.claim(connection, row, now):
                return
            if channel is None:
                outbox.settle(
                    connection,
                    row.id,
                    status=DeliveryStatus.FAILED,
                    error="channel no longer configured",
                    now=now,
                )
                return
        status, error = await self._send(channel, row, limit)
        crashpoints.reach(Point.DELIVERING_ALERT)
        with self._engine.begin() as connection:
            outbox.settle(connection, row.id, status=status, error=error, now=self._clock.now())

    async def _send_within_lease(self, channel: Channel, title: str, body: str) -> None:
        """Give up before the claim's lease runs out, so no other flusher sends it meanwhile."""
        try:
            async with asyncio.timeout(outbox.SEND_SECONDS):
                await self._notifier.send(channel, title, body)
        except TimeoutError:
            raise DeliveryError(
                f"the channel did not answer within {outbox.SEND_SECONDS:g}s"
            ) from None

    async def _send(
        self, channel: Channel, row: Row[Any], limit: asyncio.Semaphore
    ) -> tuple[DeliveryStatus, str | None]:
        body = row.short_body if channel.is_sms and row.short_body else row.body
        async with limit:
            try:
                await self._send_within_lease(channel, row.title, body)
            except DeliveryError as exc:
                log.warning(
                    "alert delivery failed", extra={"channel": channel.name, "reason": str(exc)}
                )
                return DeliveryStatus.PENDING, limits.clip(str(exc), limits.REASON)
        return DeliveryStatus.SENT, None
