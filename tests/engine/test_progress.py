"""The progress line: done/total, rate, ETA and errors so far."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime

from balmon.engine.progress import Progress
from balmon.engine.worker import Tally
from balmon.storage.states import Status


class StoppedClock:
    def __init__(self) -> None:
        self.t = 100.0

    def now(self) -> datetime:
        return datetime(2026, 11, 28, tzinfo=UTC)

    def monotonic(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.t += seconds


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_line_shows_done_total_rate_eta_and_errors() -> None:
    clock, tally = StoppedClock(), Tally()
    progress = Progress(tally=tally, total=1000, clock=clock, stream=Terminal())
    for _ in range(250):
        tally.finish(Status.PASS)
    tally.failed_attempts = 7
    clock.t += 5.0
    line = progress.line()
    assert "250/1,000" in line and "50/s" in line and "ETA 15s" in line and "errors 7" in line
    assert line.startswith("[#######.......................]")


async def test_a_terminal_gets_a_redrawn_bar_that_ends_with_a_newline() -> None:
    stream = Terminal()
    progress = Progress(tally=Tally(), total=10, clock=StoppedClock(), stream=stream, interval=0.01)
    task = asyncio.create_task(progress.run())
    await asyncio.sleep(0.05)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    output = stream.getvalue()
    assert output.startswith("\r[") and output.endswith("\n") and "0/10" in output


def test_a_distributed_run_adds_its_chunks_and_workers_to_the_line() -> None:
    clock, tally = StoppedClock(), Tally()
    progress = Progress(tally=tally, total=1000, clock=clock, stream=Terminal())
    tally.done = 400
    tally.detail = "chunks 4/10  workers 2"
    clock.t += 1.0
    assert progress.line().endswith("errors 0  chunks 4/10  workers 2")
