"""The launcher runs each date in a child process of its own (never on the caller's event
loop), one at a time, and reports what really became of it: completed, refused, failed with
its reason, interrupted by SIGTERM (exit 143, resumable) or killed (a failed run, recorded)."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, update

from balmon.banksim import SimulatorThread as Simulator
from balmon.config import Settings
from balmon.scheduling.launcher import LaunchState, RunLauncher
from balmon.storage.schema import run_leases, verification_results, verification_runs
from tests.engine.helpers import fast_settings, write_customers
from tests.integration.conftest import start_simulator

DAY = date(2026, 11, 26)


@pytest.fixture
def slow_bank(tmp_path: Path) -> Iterator[tuple[Simulator, Path]]:
    customers = write_customers(tmp_path / "c.csv", [(f"L{i:03d}", "0") for i in range(80)])
    faults = tmp_path / "f.csv"
    faults.write_text("".join(f"L{i:03d},slow:0.3\n" for i in range(80)))
    simulator = start_simulator(customers, faults)
    yield simulator, customers
    simulator.stop()


def _settings(engine: Engine, url: str, customers: Path) -> Settings:
    return fast_settings(
        engine.url.render_as_string(hide_password=False),
        source={"url": url},
        verification={"customers_file": str(customers)},
        engine={"processes": 1, "concurrency": 4, "shutdown_grace_seconds": 20},
    )


def _run(engine: Engine) -> Any:
    with engine.connect() as c:
        return c.execute(select(verification_runs)).one()


async def _until(condition: Any, timeout: float = 30) -> None:
    async with asyncio.timeout(timeout):
        while not await asyncio.to_thread(condition):
            await asyncio.sleep(0.05)


async def _mid_run(engine: Engine, bank: tuple[Simulator, Path]) -> RunLauncher:
    """A launcher whose run process has recorded a few results and is still going."""
    simulator, customers = bank
    launcher = RunLauncher(settings=_settings(engine, simulator.url, customers), engine=engine)
    await launcher.start(DAY)
    await _until(lambda: _results(engine) >= 4)
    return launcher


def _results(engine: Engine) -> int:
    with engine.connect() as c:
        return len(c.execute(select(verification_results.c.id)).all())


async def test_a_run_lives_in_a_child_process_and_completes(engine: Engine, tmp_path: Path) -> None:
    customers = write_customers(tmp_path / "c.csv", [(f"K{i:02d}", "0") for i in range(20)])
    simulator = start_simulator(customers)
    try:
        launcher = RunLauncher(settings=_settings(engine, simulator.url, customers), engine=engine)
        started = await launcher.start(DAY)
        assert started.state is LaunchState.RUNNING and started.run_id is not None
        holder = await asyncio.to_thread(_run, engine)
        assert holder.lease_pid not in (None, os.getpid())  # another process holds the lease
        ended = await launcher.wait(DAY)
    finally:
        simulator.stop()
    assert ended.state is LaunchState.ALREADY_COMPLETED or ended.state is LaunchState.COMPLETED
    assert _run(engine).status == "completed" and _results(engine) == 20
    assert launcher.running() == []


async def test_one_run_at_a_time_per_instance(
    engine: Engine, slow_bank: tuple[Simulator, Path]
) -> None:
    simulator, customers = slow_bank
    launcher = RunLauncher(settings=_settings(engine, simulator.url, customers), engine=engine)
    assert (await launcher.start(DAY)).state is LaunchState.RUNNING
    again = await launcher.start(DAY)
    other = await launcher.start(date(2026, 11, 25))
    await launcher.stop()
    assert (again.state, again.reason) == (LaunchState.REFUSED, "already running in this process")
    assert other.state is LaunchState.REFUSED
    assert other.reason == "this instance is running 2026-11-26; it runs one date at a time"


async def test_stop_sends_sigterm_the_run_is_interrupted_and_resumable(
    engine: Engine, slow_bank: tuple[Simulator, Path]
) -> None:
    launcher = await _mid_run(engine, slow_bank)
    ending = asyncio.create_task(launcher.wait(DAY))
    await launcher.stop()
    ended = await ending
    assert ended.state is LaunchState.INTERRUPTED and ended.reason == "SIGTERM"
    process = launcher._children[DAY].process
    assert process.exitcode == 143
    run = _run(engine)
    assert run.status == "interrupted" and run.lease_pid is None
    with engine.connect() as c:
        assert c.execute(select(run_leases.c.pid)).scalar_one() is None  # free to resume


async def test_a_killed_run_process_is_a_failed_run_with_its_reason(
    engine: Engine, slow_bank: tuple[Simulator, Path]
) -> None:
    launcher = await _mid_run(engine, slow_bank)
    os.kill(_run(engine).lease_pid, signal.SIGKILL)
    ended = await launcher.wait(DAY)
    reason = "the run process died (killed by SIGKILL)"
    assert (ended.state, ended.reason) == (LaunchState.FAILED, reason)
    run = _run(engine)
    assert (run.status, run.reason, run.lease_pid) == ("failed", reason, None)
    # The next start resumes the same run where it stopped.
    resumed = await launcher.start(DAY)
    assert (resumed.state, resumed.run_id) == (LaunchState.RUNNING, run.id)
    assert _run(engine).status == "running"
    await launcher.stop()


async def test_a_run_that_cannot_start_fails_with_its_one_line_reason(
    engine: Engine, tmp_path: Path
) -> None:
    settings = _settings(engine, "http://127.0.0.1:9", tmp_path / "gone.csv")
    launcher = RunLauncher(settings=settings, engine=engine)
    launch = await launcher.start(DAY)
    assert launch.state is LaunchState.FAILED
    assert launch.reason == (
        f"config error: verification.customers_file: file not found: {tmp_path / 'gone.csv'}"
    )
    assert launcher._children[DAY].process.exitcode == 1


async def test_a_run_taken_over_by_another_process_moved_and_did_not_fail(
    engine: Engine, slow_bank: tuple[Simulator, Path]
) -> None:
    """The child finds its lease taken (it stalled, another instance took the run over): the
    run goes on there, so the child ends MOVED (exit 0), writes nothing on the run, and the
    scheduler raises no FAILED alarm for it (it alarms on FAILED only)."""
    launcher = await _mid_run(engine, slow_bank)

    def take_over() -> None:
        with engine.begin() as c:
            c.execute(
                update(run_leases).values(
                    host="instance-b", pid=4242, heartbeat_at=datetime.now(UTC)
                )
            )

    await asyncio.to_thread(take_over)
    ended = await launcher.wait(DAY)
    assert ended.state is LaunchState.MOVED
    assert ended.reason == f"lost the lease on {DAY}: another process took the run over"
    assert launcher._children[DAY].process.exitcode == 0
    run = _run(engine)
    assert (run.status, run.reason) == ("running", None)
