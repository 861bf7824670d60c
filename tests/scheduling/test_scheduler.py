"""The scheduler in-process against the simulator and a real database, with a fixed wall clock:
catch-up order, one run per date, the missed-run and failed-run alarms to a real webhook."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select

from balmon.alerts import outbox
from balmon.alerts.channels import Channel, parse_channels
from balmon.alerts.content import Rendered
from balmon.config import Settings
from balmon.config.settings import RetentionSettings
from balmon.engine.lease import Owner
from balmon.scheduling.alarms import Alarm
from balmon.scheduling.launcher import Launch, LaunchState, RunLauncher
from balmon.scheduling.scheduler import Scheduler
from balmon.storage.schema import (
    alert_messages,
    audit_events,
    run_alarms,
    run_leases,
    scheduler_instances,
    verification_results,
    verification_runs,
)
from balmon.storage.states import AlarmReason
from tests.alerts.receivers import Webhook, webhook_server
from tests.conftest import on_backends
from tests.engine.helpers import fast_settings, write_customers
from tests.integration.conftest import start_simulator

NOW = datetime(2026, 11, 28, 7, 0, tzinfo=UTC)  # after the 06:00 firing for the 27th


class FixedClock:
    """Wall time stands still (the schedule's decisions are about it); sleeping is real, short."""

    def __init__(self, now: datetime) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(min(seconds, 0.05))


@pytest.fixture
def bank(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    customers = write_customers(tmp_path / "c.csv", [(f"S{i:03d}", "0") for i in range(60)])
    simulator = start_simulator(customers)
    yield simulator.url, customers
    simulator.stop()


def _settings(engine: Engine, url: str, customers: Path, **schedule: Any) -> Settings:
    return fast_settings(
        str(engine.url.render_as_string(hide_password=False)),
        source={"url": url},
        verification={"customers_file": str(customers)},
        schedule={"catch_up_days": 2, **schedule},
        alerts={"group_wait_seconds": 0.0},
    )


async def _run_until(scheduler: Scheduler, done: Any, timeout: float = 30) -> None:
    task = asyncio.create_task(scheduler.run())
    try:
        async with asyncio.timeout(timeout):
            while not await asyncio.to_thread(done):
                await asyncio.sleep(0.05)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def _runs(engine: Engine) -> list[Any]:
    with engine.connect() as c:
        return list(c.execute(select(verification_runs).order_by(verification_runs.c.id)).all())


@on_backends()
async def test_start_runs_each_missing_due_date_once_oldest_first(
    engine: Engine, bank: tuple[str, Path]
) -> None:
    url, customers = bank
    settings = _settings(engine, url, customers)
    clock = FixedClock(NOW)
    launcher = RunLauncher(settings=settings, engine=engine)
    assert (await launcher.run(date(2026, 11, 26))).state is LaunchState.COMPLETED
    scheduler = Scheduler(settings=settings, engine=engine, launcher=launcher, clock=clock)

    def three_done() -> bool:
        return sum(r.status == "completed" for r in _runs(engine)) == 3

    await _run_until(scheduler, three_done)
    runs = _runs(engine)
    assert [(r.business_date, r.status) for r in runs] == [
        (date(2026, 11, 26), "completed"),
        (date(2026, 11, 25), "completed"),
        (date(2026, 11, 27), "completed"),
    ]
    with engine.connect() as c:
        assert c.scalar(select(verification_results.c.id).limit(1)) is not None
        beat = c.execute(select(scheduler_instances)).one()
    assert beat.next_business_date == date(2026, 11, 28)
    assert beat.next_firing_at == datetime(2026, 11, 29, 6, 0, tzinfo=UTC)
    assert beat.stopped_at is not None  # a clean stop is recorded
    # A second scheduler finds every date completed and asks for no run at all.
    asked = RecordingLauncher(settings=settings, engine=engine)
    again = Scheduler(
        settings=settings, engine=engine, launcher=asked, clock=clock, owner=Owner("again", 1)
    )
    await _run_until(again, lambda: _beat_of(engine, "again:1") is not None)
    assert asked.asked == [] and len(_runs(engine)) == 3


class RecordingLauncher(RunLauncher):
    """The real launcher, noting each date it is asked to run."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.asked: list[date] = []

    async def start(self, day: date) -> Launch:
        self.asked.append(day)
        return await super().start(day)


def _beat_of(engine: Engine, name: str) -> datetime | None:
    """The instance's last heartbeat: written at the end of each pass, after it started runs."""
    with engine.connect() as c:
        row = c.execute(
            select(scheduler_instances.c.next_firing_at).where(scheduler_instances.c.name == name)
        ).first()
    return row.next_firing_at if row else None


def _hold_by_another_live_process(engine: Engine, day: date) -> None:
    with engine.begin() as c:
        c.execute(
            insert(run_leases).values(
                business_date=day, host="elsewhere", pid=4242, heartbeat_at=NOW
            )
        )


def _alarm_posts(hook: Webhook) -> list[dict[str, Any]]:
    return [p for p in hook.posts if "CRITICAL" in p.get("title", "")]


async def test_a_deadline_passed_raises_exactly_one_critical_alarm(
    engine: Engine, bank: tuple[str, Path]
) -> None:
    url, customers = bank
    with webhook_server() as hook:
        settings = _settings(engine, url, customers, catch_up_days=0, deadline="06:30")
        settings = _with_alert_url(settings, f"json://127.0.0.1:{hook.port}/hook")
        _hold_by_another_live_process(engine, date(2026, 11, 27))
        clock = FixedClock(NOW)

        def alarmed() -> bool:
            return len(_alarm_posts(hook)) >= 1

        for name in ("a", "b"):  # two instances notice it; the team hears once
            launcher = RunLauncher(settings=settings, engine=engine)
            scheduler = Scheduler(
                settings=settings,
                engine=engine,
                launcher=launcher,
                clock=clock,
                owner=Owner(name, 1),
            )
            await _run_until(scheduler, alarmed)
            await asyncio.sleep(0.3)
    posts = _alarm_posts(hook)
    assert len(posts) == 1, posts
    assert posts[0]["title"] == "[balmon] CRITICAL: 2026-11-27 has no completed run"
    assert "not completed by the deadline 2026-11-28 06:30Z" in posts[0]["message"]
    assert "still running (run" not in posts[0]["message"]  # held by a lease, no run row yet
    with engine.connect() as c:
        alarms = c.execute(select(run_alarms)).all()
        kinds = c.scalars(select(alert_messages.c.severity)).all()
    assert [(a.business_date, a.reason) for a in alarms] == [(date(2026, 11, 27), "missed")]
    assert kinds == ["CRITICAL"]


async def test_a_run_that_cannot_start_raises_the_failed_alarm_once(
    engine: Engine, bank: tuple[str, Path], tmp_path: Path
) -> None:
    url, _ = bank
    with webhook_server() as hook:
        settings = _settings(engine, url, tmp_path / "gone.csv", catch_up_days=0)
        settings = _with_alert_url(settings, f"json://127.0.0.1:{hook.port}/hook")
        clock = FixedClock(NOW)
        launcher = RunLauncher(settings=settings, engine=engine)
        scheduler = Scheduler(settings=settings, engine=engine, launcher=launcher, clock=clock)
        await _run_until(scheduler, lambda: len(_alarm_posts(hook)) >= 1)
    posts = _alarm_posts(hook)
    assert [p["title"] for p in posts] == ["[balmon] CRITICAL: 2026-11-27 run failed"]
    assert "file not found" in posts[0]["message"]


def _with_alert_url(settings: Settings, url: str) -> Settings:
    from pydantic import SecretStr

    alerts = settings.alerts.model_copy(update={"urls": [SecretStr(url)]})
    return settings.model_copy(update={"alerts": alerts})


async def test_stopping_mid_run_interrupts_it_and_starts_no_other_date(
    engine: Engine, tmp_path: Path
) -> None:
    customers = write_customers(tmp_path / "c.csv", [(f"W{i:03d}", "0") for i in range(60)])
    faults = tmp_path / "f.csv"
    faults.write_text("".join(f"W{i:03d},slow:0.5\n" for i in range(60)))
    simulator = start_simulator(customers, faults)
    try:
        settings = _settings(engine, simulator.url, customers, catch_up_days=1)
        clock = FixedClock(NOW)
        launcher = RunLauncher(settings=settings, engine=engine)
        scheduler = Scheduler(settings=settings, engine=engine, launcher=launcher, clock=clock)
        await _run_until(scheduler, lambda: [r.status for r in _runs(engine)] == ["running"])
    finally:
        simulator.stop()
    await asyncio.sleep(0.3)  # a swallowed cancellation would start the next date by now
    runs = _runs(engine)
    assert [(r.business_date, r.status) for r in runs] == [(date(2026, 11, 26), "interrupted")]
    with engine.connect() as c:
        lease = c.execute(select(run_leases)).one()
    assert lease.pid is None  # released: the next firing resumes the date


class _AlarmDuringDelivery:
    """A channel that is slow to take the first message; meanwhile a run fails (an alarm)."""

    def __init__(self) -> None:
        self.titles: list[str] = []
        self.scheduler: Scheduler | None = None

    async def send(self, channel: Channel, title: str, body: str) -> None:
        if not self.titles and self.scheduler is not None:
            alarm = Alarm(date(2026, 11, 27), AlarmReason.FAILED, "the run could not complete")
            await asyncio.to_thread(self.scheduler._alarm, alarm, NOW)
        self.titles.append(title)


async def test_an_alarm_raised_while_alerts_are_flushed_is_delivered_at_once(
    engine: Engine, bank: tuple[str, Path]
) -> None:
    url, customers = bank
    settings = _with_alert_url(
        _settings(engine, url, customers, catch_up_days=0, enabled=False),
        "json://127.0.0.1:9/hook",
    )
    # One delivery round per flush: the alarm comes after that round looked for work.
    alerts = settings.alerts.model_copy(update={"delivery_attempts": 1})
    settings = settings.model_copy(update={"alerts": alerts})
    with engine.begin() as c:  # a message waiting from before, so the first flush sends
        outbox.add_message(
            c, Rendered("[balmon] earlier", "b", "s"), kind="test", now=NOW, count=0,
            channels=parse_channels(settings.alerts.urls),
        )  # fmt: skip
    notifier = _AlarmDuringDelivery()
    clock = FixedClock(NOW)  # the flush interval never passes: only "deliver now" sends
    launcher = RunLauncher(settings=settings, engine=engine)
    scheduler = Scheduler(
        settings=settings, engine=engine, launcher=launcher, clock=clock, notifier=notifier
    )
    notifier.scheduler = scheduler
    await _run_until(scheduler, lambda: len(notifier.titles) >= 2, timeout=5)
    assert notifier.titles == ["[balmon] earlier", "[balmon] CRITICAL: 2026-11-27 run failed"]


async def test_the_scheduler_applies_retention_once_a_week(
    engine: Engine, bank: tuple[str, Path], tmp_path: Path
) -> None:
    url, customers = bank
    archive = tmp_path / "archive"
    settings = _settings(engine, url, customers).model_copy(
        update={"retention": RetentionSettings(keep_days=90, archive_dir=archive, auto=True)}
    )
    clock = FixedClock(NOW)
    launcher = RunLauncher(settings=settings, engine=engine)
    old = date(2026, 5, 4)
    for day in (old, date(2026, 11, 25), date(2026, 11, 26), date(2026, 11, 27)):
        assert (await launcher.run(day)).state is LaunchState.COMPLETED

    def applications() -> int:
        with engine.connect() as c:
            return len(
                c.execute(select(audit_events).where(audit_events.c.action == "retention")).all()
            )

    scheduler = Scheduler(settings=settings, engine=engine, launcher=launcher, clock=clock)
    await _run_until(scheduler, lambda: applications() == 1)
    assert old not in {r.business_date for r in _runs(engine)}
    assert len(list(archive.glob("retention-*/manifest.json"))) == 1
    # Another instance two hours later: the week has not passed, nothing is applied again.
    clock.current = NOW + timedelta(hours=2)
    again = Scheduler(
        settings=settings, engine=engine, launcher=launcher, clock=clock, owner=Owner("again", 1)
    )
    await _run_until(again, lambda: _beat_of(engine, "again:1") is not None)
    assert applications() == 1
