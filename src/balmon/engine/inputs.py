"""The customers a run works through: from the file (resumable) or the date's UNAVAILABLE ones."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Select, func, select

from balmon.engine.customers import Customer, RejectedRow, read_customers
from balmon.engine.records import ErrorRecord
from balmon.engine.results import latest_of_date
from balmon.errors import ErrorCode
from balmon.errors.taxonomy import FLAGS
from balmon.storage.schema import (
    error_logs,
    quality_alarms,
    verification_results,
    verification_runs,
)
from balmon.storage.states import RunStatus, Status

_CHUNK = 1000

results = verification_results


def count_done(engine: Engine, run_id: int) -> int:
    """How many customers `run_id` has a result for (what a resumed run need not redo)."""
    query = select(func.count()).where(results.c.run_id == run_id)
    with engine.connect() as connection:
        return int(connection.scalar(query) or 0)


def _done_in_run(engine: Engine, run_id: int, ids: list[str]) -> set[str]:
    query = select(results.c.customer_id).where(
        results.c.run_id == run_id, results.c.customer_id.in_(ids)
    )
    with engine.connect() as connection:
        return set(connection.scalars(query))


def _logged_lines(engine: Engine, run_id: int) -> set[int]:
    query = select(error_logs.c.source_line).where(
        error_logs.c.run_id == run_id, error_logs.c.error_code == ErrorCode.INVALID_INPUT.value
    )
    with engine.connect() as connection:
        return {line for line in connection.scalars(query) if line is not None}


def from_file(
    *,
    engine: Engine,
    run_id: int,
    path: Path,
    default_min: Decimal,
    resumed: bool,
    reject: Callable[[ErrorRecord], None],
    now: Callable[[], datetime],
    skip_done: bool = True,
) -> Iterator[Customer]:
    """Good rows of the file; bad rows go to `reject` (once per run), done customers are
    skipped (unless `skip_done` is False: a distributed run's coordinator numbers its chunks
    by the whole file, and each worker skips its chunk's done customers itself)."""
    logged = _logged_lines(engine, run_id) if resumed else set()
    rows = read_customers(path, default_min)
    accepted = _accepting(rows, logged, reject, now)
    if not resumed or not skip_done:
        yield from accepted
        return
    yield from still_to_do(engine, run_id, accepted)


def still_to_do(engine: Engine, run_id: int, customers: Iterable[Customer]) -> Iterator[Customer]:
    """The customers `run_id` has no result for yet, each going on from the attempts its
    error log already holds (a resumed run, a chunk delivered again)."""
    for chunk in _chunks(customers):
        done = _done_in_run(engine, run_id, [c.customer_id for c in chunk])
        todo = [c for c in chunk if c.customer_id not in done]
        tried = _attempts_in_run(engine, run_id, [c.customer_id for c in todo])
        for customer in todo:
            made = tried.get(customer.customer_id)
            if made is None:
                yield customer
            else:
                yield replace(customer, attempts_made=made[0], last_code=made[1])


def _attempts_in_run(engine: Engine, run_id: int, ids: list[str]) -> dict[str, tuple[int, str]]:
    """Per customer, the attempts its failed-attempt rows in this run account for (the last
    one's number) and that attempt's code: so a resumed customer is not asked again for what
    was already asked and logged."""
    e = error_logs.c
    query = (
        select(e.customer_id, e.retry_count, e.error_code)
        .where(
            e.run_id == run_id,
            e.customer_id.in_(ids),
            # A flag is logged beside a result, not a failed attempt: it uses no retry.
            e.error_code.not_in([ErrorCode.INVALID_INPUT.value, *FLAGS]),
        )
        .order_by(e.customer_id, e.retry_count, e.id)
    )
    found: dict[str, tuple[int, str]] = {}
    with engine.connect() as connection:
        for customer_id, retry_count, code in connection.execute(query):
            found[customer_id] = (int(retry_count) + 1, str(code))
    return found


def previous_date(engine: Engine, day: date) -> date | None:
    """The latest business date before `day` with a completed run and no data-quality alarm:
    the one whose balances the rules compare with. A date that was never run is skipped, not
    a gap of no history; so is a date whose data was wrong as a whole (a bank's bug that
    zeroed every balance would make the next day a jump for everyone)."""
    v, q = verification_runs.c, quality_alarms.c
    alarmed = select(q.business_date).where(q.business_date == v.business_date).exists()
    query = select(func.max(v.business_date)).where(
        v.business_date < day, v.status == RunStatus.COMPLETED, ~alarmed
    )
    with engine.connect() as connection:
        found: date | None = connection.scalar(query)
    return found


def _balances_on(engine: Engine, day: date, ids: list[str]) -> dict[str, Decimal | None]:
    """Each customer's balance in its latest result of `day` (None when that is UNAVAILABLE).
    The rows come in run order, so a later run's result replaces an earlier one's."""
    query = (
        select(results.c.customer_id, results.c.balance)
        .where(results.c.business_date == day, results.c.customer_id.in_(ids))
        .order_by(results.c.run_id)
    )
    with engine.connect() as connection:
        return {customer_id: balance for customer_id, balance in connection.execute(query)}


class PreviousBalances:
    """The previous business date's balances, attached to customers a thousand at a time (one
    query each, never one per customer). Whichever process verifies the customers reads
    them: this process, each fetcher process for its own, each Celery worker for its chunk."""

    def __init__(self, engine: Engine, before: date | None) -> None:
        self._engine = engine
        self.before = before

    @classmethod
    def of(cls, engine: Engine, day: date) -> PreviousBalances:
        return cls(engine, previous_date(engine, day))

    def attach(self, customers: list[Customer]) -> list[Customer]:
        """`customers`, each with its balance of the previous date when it had one."""
        if self.before is None or not customers:
            return customers
        found = _balances_on(self._engine, self.before, [c.customer_id for c in customers])
        # Not `dataclasses.replace`: this runs for every customer, and replace() costs twice.
        return [
            c if (balance := found.get(c.customer_id)) is None
            else Customer(c.customer_id, c.min_balance, c.line, c.attempts_made, c.last_code,
                          c.currency, balance)
            for c in customers
        ]  # fmt: skip

    def stream(self, customers: Iterable[Customer]) -> Iterator[Customer]:
        for chunk in _chunks(customers):
            yield from self.attach(chunk)


def _accepting(
    rows: Iterable[Customer | RejectedRow],
    logged: set[int],
    reject: Callable[[ErrorRecord], None],
    now: Callable[[], datetime],
) -> Iterator[Customer]:
    for row in rows:
        if isinstance(row, Customer):
            yield row
        elif row.line not in logged:
            reject(
                ErrorRecord(
                    customer_id=row.customer_id,
                    code=ErrorCode.INVALID_INPUT,
                    message=row.reason,
                    retry_count=0,
                    logged_at=now(),
                    source_line=row.line,
                )
            )


def _chunks(customers: Iterable[Customer]) -> Iterator[list[Customer]]:
    iterator = iter(customers)
    while chunk := list(itertools.islice(iterator, _CHUNK)):
        yield chunk


def _unavailable_query(business_date: date, run_id: int) -> Select[Any]:
    latest = latest_of_date(business_date, results.c.customer_id, results.c.min_balance)
    return latest.where(results.c.status == Status.UNAVAILABLE, results.c.run_id != run_id)


def unavailable_on(engine: Engine, *, business_date: date, run_id: int) -> Iterator[Customer]:
    """The date's customers whose latest outcome is UNAVAILABLE, not yet re-checked by `run_id`."""
    base = _unavailable_query(business_date, run_id)
    last = ""
    while True:
        page = base.where(results.c.customer_id > last).order_by(results.c.customer_id)
        with engine.connect() as connection:
            rows = connection.execute(page.limit(_CHUNK)).all()
        if not rows:
            return
        for row in rows:
            yield Customer(row.customer_id, row.min_balance or Decimal(0), line=0)
        last = rows[-1].customer_id


def count_unavailable(engine: Engine, *, business_date: date, run_id: int) -> int:
    """How many customers `unavailable_on` will yield (for the progress display)."""
    query = select(func.count()).select_from(_unavailable_query(business_date, run_id).subquery())
    with engine.connect() as connection:
        return int(connection.scalar(query) or 0)
