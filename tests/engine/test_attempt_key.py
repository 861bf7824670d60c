"""One failed attempt is one error_logs row, and the database itself holds to it (issue 12,
defect 3): a second row for the same (run, customer, attempt) is refused, whatever writes it."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import DatabaseError, IntegrityError

from balmon.clock import SystemClock
from balmon.engine.records import ErrorRecord
from balmon.engine.writer import BatchWriter
from balmon.errors import ErrorCode
from balmon.storage.schema import error_logs, verification_runs
from tests.conftest import on_backends

DAY = date(2026, 11, 18)
AT = datetime(2026, 11, 18, 6, tzinfo=UTC)


def _run(engine: Engine) -> int:
    with engine.begin() as c:
        row = insert(verification_runs).values(business_date=DAY, status="running", started_at=AT)
        return int(c.execute(row).inserted_primary_key[0])


def _writer(engine: Engine, run_id: int, *, resumed: bool) -> BatchWriter:
    return BatchWriter(
        engine=engine,
        run_id=run_id,
        business_date=DAY,
        clock=SystemClock(),
        interval=60,
        max_batch=100,
        resumed=resumed,
    )


def _row(run_id: int | None, customer: str, attempt: int | None, **extra: object) -> dict:
    return {
        "run_id": run_id,
        "business_date": DAY,
        "customer_id": customer,
        "error_code": "TIMEOUT",
        "error_message": "no answer",
        "retry_count": attempt or 0,
        "attempt": attempt,
        "source_line": None,
        "logged_at": AT,
    } | extra


@on_backends()
def test_the_database_refuses_a_second_row_for_one_attempt(engine: Engine) -> None:
    run_id = _run(engine)
    with engine.begin() as c:
        c.execute(insert(error_logs), [_row(run_id, "X", 0), _row(run_id, "X", 1)])
    with pytest.raises(IntegrityError), engine.begin() as c:
        c.execute(insert(error_logs).values(_row(run_id, "X", 1)))
    # Rows that are not attempts never collide: bad lines of the file (even one id on several
    # lines) and rows logged outside a run; nor does the same attempt of another run.
    bad_line = {"error_code": "INVALID_INPUT", "retry_count": 0}
    with engine.begin() as c:
        c.execute(
            insert(error_logs),
            [
                _row(run_id, "X", None, source_line=7, **bad_line),
                _row(run_id, "X", None, source_line=9, **bad_line),
                _row(None, "X", 1),
                _row(None, "X", 1),
                _row(_run(engine), "X", 1),
            ],
        )
    with engine.connect() as c:
        mine = c.execute(select(error_logs.c.attempt).where(error_logs.c.run_id == run_id)).all()
    assert sorted((a for (a,) in mine), key=lambda a: -1 if a is None else a) == [None, None, 0, 1]


@on_backends()
def test_an_attempt_number_never_changes(engine: Engine) -> None:
    run_id = _run(engine)
    with engine.begin() as c:
        c.execute(insert(error_logs).values(_row(run_id, "X", 1)))
    for value in (None, 2):
        with pytest.raises(DatabaseError, match="immutable audit record"), engine.begin() as c:
            c.execute(update(error_logs).values(attempt=value))


@on_backends()
def test_a_resumed_writer_leaves_out_attempts_already_logged(engine: Engine) -> None:
    """What a crash between a commit and its acknowledgement would send twice: the writer
    of the resumed session writes only the new attempt (the database would refuse the
    rest and stop the run), and the bad line once more would still be one row per line."""
    run_id = _run(engine)
    with engine.begin() as c:
        c.execute(insert(error_logs), [_row(run_id, "X", 0), _row(run_id, "X", 1)])

    def attempt(customer: str, n: int) -> ErrorRecord:
        return ErrorRecord(customer, ErrorCode.TIMEOUT, "no answer", n, AT)

    async def resume() -> None:
        writer = _writer(engine, run_id, resumed=True)
        for record in (attempt("X", 1), attempt("X", 2), attempt("X", 2), attempt("Y", 0)):
            writer.add_error(record)
        await writer.flush()

    asyncio.run(resume())
    e = error_logs.c
    with engine.connect() as c:
        logged = c.execute(
            select(e.customer_id, e.attempt, e.chain_seq).where(e.run_id == run_id)
        ).all()
    assert sorted((r.customer_id, r.attempt) for r in logged) == [
        ("X", 0), ("X", 1), ("X", 2), ("Y", 0)
    ]  # fmt: skip
    # Every row the resumed writer stamped into its chain was written: no gap in the chain.
    stamped = sorted(r.chain_seq for r in logged if r.chain_seq is not None)
    assert stamped == list(range(1, len(stamped) + 1))


def test_flags_beside_a_result_are_not_attempts(engine: Engine) -> None:
    """Two rules may flag one answer: both rows are written, and neither takes the attempt
    number a failed attempt of the customer holds (issue 23)."""
    run_id = _run(engine)

    async def write() -> None:
        writer = _writer(engine, run_id, resumed=False)
        writer.add_error(ErrorRecord("X", ErrorCode.TIMEOUT, "no answer", 0, AT))
        writer.add_error(ErrorRecord("X", ErrorCode.BALANCE_JUMP, "rose", 1, AT))
        writer.add_error(ErrorRecord("X", ErrorCode.BALANCE_JUMP, "another rule's flag", 1, AT))
        await writer.flush()

    asyncio.run(write())
    e = error_logs.c
    with engine.connect() as c:
        rows = c.execute(select(e.error_code, e.retry_count, e.attempt).order_by(e.id)).all()
    assert [tuple(r) for r in rows] == [
        ("TIMEOUT", 0, 0),
        ("BALANCE_JUMP", 1, None),
        ("BALANCE_JUMP", 1, None),
    ]
