"""The batch writer loses nothing, even rows added while a commit is running."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine, event, func, insert, select

from balmon.clock import SystemClock
from balmon.engine.records import ErrorRecord
from balmon.engine.writer import BatchWriter
from balmon.errors import ErrorCode
from balmon.storage.schema import error_logs, verification_runs

DAY = date(2026, 11, 27)


def _run_row(engine: Engine) -> int:
    with engine.begin() as c:
        values = {"business_date": DAY, "status": "running", "started_at": datetime.now(UTC)}
        key = c.execute(insert(verification_runs).values(**values)).inserted_primary_key
    assert key is not None
    return int(key[0])


def _record(n: int) -> ErrorRecord:
    return ErrorRecord(f"C{n}", ErrorCode.TIMEOUT, "slow", 0, datetime.now(UTC))


async def test_rows_added_while_the_writer_is_stopping_are_committed(engine: Engine) -> None:
    writer = BatchWriter(
        engine=engine,
        run_id=_run_row(engine),
        business_date=DAY,
        clock=SystemClock(),
        interval=0.01,
        max_batch=1,
    )
    loop = asyncio.get_running_loop()

    def add_and_stop() -> None:
        writer.add_error(_record(2))
        writer.stop()

    commits: list[int] = []

    def during_commit(*_: Any) -> None:
        # Runs when the writer next yields, right after this commit: the worst moment to stop.
        commits.append(1)
        if len(commits) == 1:
            loop.call_soon(add_and_stop)

    event.listen(engine, "commit", during_commit)
    task = asyncio.create_task(writer.run())
    writer.add_error(_record(1))
    await asyncio.wait_for(task, timeout=5)
    event.remove(engine, "commit", during_commit)
    with engine.connect() as c:
        assert c.scalar(select(func.count()).select_from(error_logs)) == 2
