"""Write runs and results straight into a migrated database, for tests of what reads them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Engine, insert

from balmon.storage.schema import error_logs, verification_results, verification_runs

DAY = date(2026, 11, 27)
START = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)

# (customer_id, status, final error code or None, attempts)
Result = tuple[str, str, str | None, int]


def add_run(
    engine: Engine,
    results: list[Result],
    *,
    day: date = DAY,
    status: str = "completed",
    kind: str = "full",
    seconds: float = 30.0,
) -> int:
    """One run of `day` with its results; returns the run id."""
    with engine.begin() as c:
        key = c.execute(
            insert(verification_runs).values(
                business_date=day,
                kind=kind,
                status=status,
                started_at=START,
                finished_at=START + timedelta(seconds=seconds),
            )
        ).inserted_primary_key
        assert key is not None
        run_id = int(key[0])
        if results:
            c.execute(
                insert(verification_results),
                [
                    {
                        "run_id": run_id,
                        "business_date": day,
                        "customer_id": cid,
                        "status": status_,
                        "error_code": code,
                        "attempts": attempts,
                        "checked_at": START,
                        "min_balance": Decimal("100.25"),
                        "balance": None if code else Decimal("500"),
                    }
                    for cid, status_, code, attempts in results
                ],
            )
    return run_id


def add_errors(engine: Engine, run_id: int, rows: list[tuple[str | None, str, int | None]]) -> None:
    """Error-log rows (customer_id, code, source line) of `run_id`."""
    with engine.begin() as c:
        c.execute(
            insert(error_logs),
            [
                {
                    "run_id": run_id,
                    "business_date": DAY,
                    "customer_id": cid,
                    "error_code": code,
                    "error_message": "seeded",
                    "retry_count": 0,
                    "source_line": line,
                    "logged_at": START,
                }
                for cid, code, line in rows
            ],
        )
