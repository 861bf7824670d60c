"""The batch writer loses nothing, even rows added while a commit is running."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine, event, func, insert, select

from balmon import limits
from balmon.clock import SystemClock
from balmon.engine.records import ErrorRecord
from balmon.engine.writer import BatchWriter
from balmon.errors import ErrorCode, MissingData
from balmon.storage.schema import error_logs, verification_runs

DAY = date(2026, 11, 27)


def _run_row(engine: Engine) -> int:
    with engine.begin() as c:
        values = {"business_date": DAY, "status": "running", "started_at": datetime.now(UTC)}
        key = c.execute(insert(verification_runs).values(**values)).inserted_primary_key
    assert key is not None
    return int(key[0])


def _writer(engine: Engine, *, max_batch: int) -> BatchWriter:
    return BatchWriter(
        engine=engine,
        run_id=_run_row(engine),
        business_date=DAY,
        clock=SystemClock(),
        interval=0.01,
        max_batch=max_batch,
    )


def _record(n: int) -> ErrorRecord:
    return ErrorRecord(f"C{n}", ErrorCode.TIMEOUT, "slow", 0, datetime.now(UTC))


async def test_rows_added_while_the_writer_is_stopping_are_committed(engine: Engine) -> None:
    writer = _writer(engine, max_batch=1)
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


async def test_long_messages_and_traces_are_cut_visibly_to_their_limits(engine: Engine) -> None:
    writer = _writer(engine, max_batch=100)
    failure = MissingData("field absent: " + "x" * 900)
    writer.add_error(
        ErrorRecord(
            "C1",
            failure.code,
            failure.message,
            0,
            datetime.now(UTC),
            stack_trace="Traceback\n" + "frame\n" * 3000 + "MissingData: newest line",
        )
    )
    # A rejected row's reason is not an exception's message: the writer cuts it too.
    writer.add_error(ErrorRecord(None, ErrorCode.INVALID_INPUT, "r" * 900, 0, datetime.now(UTC)))
    await writer.flush()
    with engine.connect() as c:
        rows = c.execute(select(error_logs).order_by(error_logs.c.id)).all()
    for row in rows:
        assert len(row.error_message) == limits.MESSAGE
        assert row.error_message.endswith("...")
    assert rows[0].error_message.startswith("field absent: x")
    trace = rows[0].stack_trace
    assert trace.startswith("...\n") and trace.endswith("MissingData: newest line")
    assert len(trace) == limits.TRACE + len("...\n")


async def test_a_resumed_session_skips_results_already_in_and_keeps_its_chain_whole(
    engine: Engine,
) -> None:
    """Rows of a chain must all be written: a result the run already has (written by the
    session before) is left out before hashing, not dropped by the database after."""
    from decimal import Decimal

    from balmon.audit import seal_run
    from balmon.audit.verify import verify
    from balmon.engine.records import ResultRecord
    from balmon.storage.schema import verification_results
    from balmon.storage.states import RunStatus, Status

    def result(customer: str) -> ResultRecord:
        now = datetime.now(UTC)
        return ResultRecord(customer, Status.PASS, Decimal(5), Decimal(1), None, 1, now)

    first = _writer(engine, max_batch=100)
    for customer in ("A", "B"):
        first.add_result(result(customer))
    await first.flush()
    run_id = first._run_id
    later = BatchWriter(
        engine=engine,
        run_id=int(run_id),
        business_date=DAY,
        clock=SystemClock(),
        interval=0.01,
        max_batch=100,
        resumed=True,
    )
    for customer in ("B", "C", "C"):
        later.add_result(result(customer))
    await later.flush()
    with engine.begin() as c:
        seal_run(c, int(run_id), by="test", now=datetime.now(UTC))
        c.execute(verification_runs.update().values(status=RunStatus.COMPLETED))
    with engine.connect() as c:
        customers = c.scalars(select(verification_results.c.customer_id).order_by("id")).all()
        report = verify(c)
    assert customers == ["A", "B", "C"]
    assert report.findings == [] and report.segments == 2 and report.rows == 3


async def test_an_alert_is_written_only_with_its_customers_result(engine: Engine) -> None:
    """Two sessions that both ended one customer (a Celery worker taken over while it still
    ran, say), each under another code: one result, and one alert, not two."""
    from decimal import Decimal

    from balmon.engine.records import AlertRecord, ResultRecord
    from balmon.storage.schema import alerts
    from balmon.storage.states import Status

    def ended(writer: BatchWriter, code: ErrorCode) -> None:
        now = datetime.now(UTC)
        writer.add_result(ResultRecord("X", Status.UNAVAILABLE, None, Decimal(1), code, 4, now))
        writer.add_alert(AlertRecord("X", code, 4, now))

    first = _writer(engine, max_batch=100)
    ended(first, ErrorCode.TIMEOUT)
    await first.flush()
    later = BatchWriter(
        engine=engine,
        run_id=first._run_id,
        business_date=DAY,
        clock=SystemClock(),
        interval=0.01,
        max_batch=100,
        resumed=True,
    )
    ended(later, ErrorCode.NETWORK_ERROR)
    await later.flush()
    with engine.connect() as c:
        raised = c.execute(select(alerts.c.customer_id, alerts.c.error_code)).all()
    assert [tuple(row) for row in raised] == [("X", "TIMEOUT")]
