"""Reading what runs recorded: a customer's latest result, outcome and error-log counts.

The engine writes results and error-log rows (`writer`); the run's summary, the next
`--retry-unavailable`, the dashboard and the metrics all count them through these functions,
so "latest", "how many PASS" and "how many TIMEOUT attempts" mean the same everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, func, select
from sqlalchemy.orm import aliased

from balmon.storage.schema import error_logs, verification_results, verification_runs
from balmon.storage.states import Status

results = verification_results


@dataclass(frozen=True, slots=True)
class Outcomes:
    """Customers by outcome, and the UNAVAILABLE ones by their final error code."""

    passed: int = 0
    failed: int = 0
    unavailable: int = 0
    unavailable_by_code: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return self.passed + self.failed + self.unavailable

    def by_status(self) -> dict[Status, int]:
        return {
            Status.PASS: self.passed,
            Status.FAIL: self.failed,
            Status.UNAVAILABLE: self.unavailable,
        }


def not_superseded(day: date) -> ColumnElement[bool]:
    """True for a result of `day` that no later run of `day` replaced for the same customer."""
    later = aliased(results)
    replaced = (
        select(later.c.id)
        .where(
            later.c.business_date == day,
            later.c.customer_id == results.c.customer_id,
            later.c.run_id > results.c.run_id,
        )
        .exists()
    )
    return ~replaced


def latest_of_date(day: date, *columns: Any, several_runs: bool = True) -> Select[Any]:
    """`columns` of each customer's latest result of `day`.

    `several_runs=False` skips the superseded check when the caller knows the date has one run.
    """
    query = select(*columns).where(results.c.business_date == day)
    return query.where(not_superseded(day)) if several_runs else query


def count(connection: Connection, rows: Select[Any]) -> Outcomes:
    """Count the results `rows` selects (it must select `status` and `error_code`)."""
    chosen = rows.subquery()
    query = select(chosen.c.status, chosen.c.error_code, func.count()).group_by(
        chosen.c.status, chosen.c.error_code
    )
    statuses: dict[str, int] = {}
    by_code: dict[str, int] = {}
    for status, code, n in connection.execute(query):
        statuses[status] = statuses.get(status, 0) + int(n)
        if status == Status.UNAVAILABLE:
            by_code[str(code)] = by_code.get(str(code), 0) + int(n)
    return Outcomes(
        passed=statuses.get(Status.PASS, 0),
        failed=statuses.get(Status.FAIL, 0),
        unavailable=statuses.get(Status.UNAVAILABLE, 0),
        unavailable_by_code=by_code,
    )


def of_run(connection: Connection, run_id: int) -> Outcomes:
    """The outcomes one run recorded."""
    rows = select(results.c.status, results.c.error_code).where(results.c.run_id == run_id)
    return count(connection, rows)


def of_date(connection: Connection, day: date, *, several_runs: bool | None = None) -> Outcomes:
    """The date's outcomes, counting each customer's latest result only.

    The superseded check costs a subquery per row, so it is skipped for a date with one run
    (looked up unless the caller knows).
    """
    if several_runs is None:
        runs = select(func.count()).where(verification_runs.c.business_date == day)
        several_runs = int(connection.scalar(runs) or 0) > 1
    rows = latest_of_date(day, results.c.status, results.c.error_code, several_runs=several_runs)
    return count(connection, rows)


def retries_of_run(connection: Connection, run_id: int) -> int:
    """Attempts beyond each customer's first, over the run's results."""
    r = results.c
    query = select(func.coalesce(func.sum(r.attempts - 1), 0)).where(
        r.run_id == run_id, r.attempts > 1
    )
    return int(connection.scalar(query) or 0)


def errors_by_code(
    connection: Connection, *, run_id: int | None = None, day: date | None = None
) -> dict[str, int]:
    """Error-log rows by code (failed attempts and INVALID_INPUT rows), of a run, a date or all."""
    e = error_logs.c
    query = select(e.error_code, func.count()).group_by(e.error_code)
    if run_id is not None:
        query = query.where(e.run_id == run_id)
    if day is not None:
        query = query.where(e.business_date == day)
    return {str(code): int(n) for code, n in connection.execute(query)}


def fails_of_date(
    connection: Connection,
    day: date,
    *,
    customer_id: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> tuple[list[Any], int]:
    """Customers whose latest result of `day` is FAIL (below their minimum), the largest
    shortfall first."""
    r = results.c
    rows = latest_of_date(
        day, r.customer_id, r.balance, r.min_balance, r.currency, r.checked_at, r.run_id,
        r.attempts,
    ).where(r.status == Status.FAIL)  # fmt: skip
    if customer_id:
        rows = rows.where(r.customer_id == customer_id)
    total = connection.scalar(select(func.count()).select_from(rows.subquery())) or 0
    shortfall = (r.min_balance - r.balance).desc()
    page = rows.order_by(shortfall, r.customer_id).offset(offset)
    if limit is not None:
        page = page.limit(limit)
    return list(connection.execute(page).all()), int(total)


def history_of(
    connection: Connection, customer_id: str, *, end: date, dates: int = 30
) -> list[tuple[date, str]]:
    """The customer's latest outcome on each of its last `dates` business dates up to `end`,
    oldest first."""
    r = results.c
    mine = (r.customer_id == customer_id, r.business_date <= end)
    recent = (
        select(r.business_date).where(*mine).distinct()
        .order_by(r.business_date.desc()).limit(dates).subquery()
    )  # fmt: skip
    # A join, not IN: MariaDB and MySQL refuse LIMIT inside an IN subquery.
    rows = connection.execute(
        select(r.business_date, r.status)
        .join(recent, recent.c.business_date == r.business_date)
        .where(*mine)
        .order_by(r.business_date.desc(), r.run_id.desc())
    ).all()  # the first row per date is its latest run's
    latest: dict[date, str] = {}
    for day, status in rows:
        latest.setdefault(day, status)
    return sorted(latest.items())[-dates:]
