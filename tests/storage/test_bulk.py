"""The run's bulk insert (COPY on PostgreSQL, the driver's executemany elsewhere) stores
exactly what a Core `insert()` stores, on every backend, for the values a hostile bank or
customer file can put in a row."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select

from balmon.storage.bulk import BulkInsert
from balmon.storage.schema import error_logs, verification_results, verification_runs
from balmon.storage.statements import database_reason, failure_reason
from tests.conftest import on_backends

DAY = date(2026, 11, 28)
# COPY's text format gives tab, newline, backslash and `\N` a meaning of their own.
AWKWARD = ["tab\there", "line\nbreak", "back\\slash", "\\N", "", "Müller ✓", "quote ' \" ,"]


def _run(engine: Engine) -> int:
    with engine.begin() as c:
        started = datetime(2026, 11, 28, 6, tzinfo=UTC)
        row = insert(verification_runs).values(
            business_date=DAY, status="running", started_at=started
        )
        return int(c.execute(row).inserted_primary_key[0])


def _errors(run_id: int, prefix: str) -> list[dict[str, Any]]:
    when = datetime(2026, 11, 28, 8, 30, 1, 123456, tzinfo=timezone(timedelta(hours=2)))
    return [
        {
            "run_id": run_id,
            "business_date": DAY,
            "customer_id": f"{prefix}{n}",
            "error_code": "NETWORK_ERROR",
            "error_message": text,
            "retry_count": n,
            "stack_trace": None if n % 2 else text,
            "source_line": None,
            "attempt": n,
            "logged_at": when,
        }
        for n, text in enumerate(AWKWARD)
    ]


def _results(run_id: int, prefix: str) -> list[dict[str, Any]]:
    amounts = [Decimal("0.3"), Decimal("-12345678901.123456"), None, Decimal("1E+2")]
    return [
        {
            "run_id": run_id,
            "business_date": DAY,
            "customer_id": f"{prefix}{n}",
            "status": "PASS",
            "balance": amount,
            "min_balance": Decimal("0.01"),
            "error_code": None,
            "attempts": 1,
            "checked_at": datetime(2026, 11, 28, 9, tzinfo=UTC),
        }
        for n, amount in enumerate(amounts)
    ]


def _stored(engine: Engine, table: Any, prefix: str) -> list[tuple[Any, ...]]:
    columns = [c for c in table.columns if c.name != "id"]
    with engine.connect() as c:
        rows = c.execute(
            select(*columns)
            .where(table.c.customer_id.like(f"{prefix}%"))
            .order_by(table.c.customer_id)
        ).all()
    return [tuple(row) for row in rows]


@on_backends()
@pytest.mark.parametrize(
    ("table", "make"), [(error_logs, _errors), (verification_results, _results)]
)
def test_bulk_rows_are_stored_as_a_core_insert_stores_them(
    engine: Engine, table: Any, make: Any
) -> None:
    run_id = _run(engine)
    with engine.begin() as c:
        c.execute(insert(table), make(run_id, "core-"))
        BulkInsert(table, engine.dialect)(c, make(run_id, "bulk-"))
    core, bulk = _stored(engine, table, "core-"), _stored(engine, table, "bulk-")
    assert len(bulk) == len(make(run_id, "x"))
    strip = [
        tuple(v.removeprefix("bulk-") if isinstance(v, str) else v for v in row) for row in bulk
    ]
    assert strip == [
        tuple(v.removeprefix("core-") if isinstance(v, str) else v for v in row) for row in core
    ]


@on_backends()
def test_a_bulk_insert_is_part_of_the_callers_transaction(engine: Engine) -> None:
    run_id = _run(engine)

    def insert_then_fail() -> None:
        with engine.begin() as c:
            BulkInsert(error_logs, engine.dialect)(c, _errors(run_id, "gone-"))
            raise RuntimeError("the commit fails after the insert")

    with pytest.raises(RuntimeError):
        insert_then_fail()
    assert _stored(engine, error_logs, "gone-") == []


def test_only_the_tables_own_columns_are_written(engine: Engine) -> None:
    run_id = _run(engine)
    rows = _errors(run_id, "x-")
    rows[0]["id); DROP TABLE error_logs; --"] = 1
    with pytest.raises(ValueError, match="not columns of error_logs"), engine.begin() as c:
        BulkInsert(error_logs, engine.dialect)(c, rows)


@on_backends()
def test_a_failed_insert_never_quotes_its_rows(engine: Engine) -> None:
    """A database error's text ends up in the run's recorded reason and the log: it must not
    carry the batch's customer ids and balances (SQLAlchemy appends the parameters)."""
    # An id holding a quote, so no quote-matching can withhold it.
    rows = _results(_run(engine), "secret-O'Brien-")
    rows[1]["balance"] = Decimal("987654.321")
    rows.append(dict(rows[0]))  # the same customer twice: the unique key refuses the batch
    with pytest.raises(Exception) as failed, engine.begin() as c:  # noqa: PT011
        BulkInsert(verification_results, engine.dialect)(c, rows)
    # What the run records and logs as its reason: the first line of the driver's message.
    reason = database_reason(failed.value)
    assert "secret" not in reason and "Brien" not in reason and "0.3" not in reason
    assert "verification_results" in reason or "uq_verification_results" in reason, reason
    assert failure_reason(failed.value) == f"IntegrityError: {reason}"
    # And the exception's own text lists no parameters (PostgreSQL's COPY error quotes the
    # refused line only: the duplicate, never another customer's balance).
    assert "987654" not in str(failed.value)
