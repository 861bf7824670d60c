"""Batch the run's rows and commit them together, at least once a second.

Commits run on the run's own event loop, on purpose (see `flush`): that loop serves no HTTP,
since a run always has a process of its own (`balmon run`, or the run process that `serve`
and `scheduler` start)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Connection, Engine, select

from balmon import crashpoints, limits
from balmon.audit import Chain, Segment, run_segment
from balmon.clock import Clock
from balmon.crashpoints import Point
from balmon.engine.lease import Owner, fence
from balmon.engine.records import AlertRecord, ErrorRecord, ResultRecord
from balmon.errors import ErrorCode
from balmon.errors.taxonomy import FLAGS
from balmon.storage.bulk import BulkInsert
from balmon.storage.schema import alerts, error_logs, verification_results
from balmon.storage.statements import insert_ignoring_duplicates

_NOT_ATTEMPTS = frozenset({ErrorCode.INVALID_INPUT, *FLAGS})


@dataclass
class _Batch:
    errors: list[dict[str, Any]] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.errors) + len(self.results) + len(self.alerts)


class BatchWriter:
    """Collects rows from the workers; a background task commits them in one transaction."""

    def __init__(
        self,
        *,
        engine: Engine,
        run_id: int,
        business_date: date,
        clock: Clock,
        interval: float,
        max_batch: int,
        resumed: bool = True,
        owner: Owner | None = None,
        guard: Callable[[Connection], None] | None = None,
    ) -> None:
        self._engine = engine
        self._run_id, self._day = run_id, business_date
        self._keys = {"run_id": run_id, "business_date": business_date}
        self._clock = clock
        self._interval = interval
        self._max_batch = max_batch
        self._batch = _Batch()
        self._full = asyncio.Event()
        self._stopping = False
        self._dialect = engine.dialect.name
        self._insert_errors = BulkInsert(error_logs, engine.dialect)
        self._insert_results = BulkInsert(verification_results, engine.dialect)
        # Only a resumed run can already hold results (from the sessions before this one).
        self._resumed = resumed
        # The run's lease holder: every commit holds the lease (`lease.fence`). None only for
        # a writer outside a leased run (tests of the writer alone).
        self._owner = owner
        # A further check at the start of every commit, after the lease's: a Celery worker's
        # hold on its chunk (`scaleout.chunks.hold`).
        self._guard = guard
        # This writer session's hash chains (`balmon.audit`): its own segment per table, so
        # no other writer ever contends for their tails.
        segment = run_segment(run_id)
        self._chains = {
            "errors": Chain(error_logs.name, segment),
            "results": Chain(verification_results.name, segment),
        }

    def add_error(self, record: ErrorRecord) -> None:
        self._batch.errors.append(
            {
                **self._keys,
                "customer_id": record.customer_id,
                "error_code": record.code.value,
                "error_message": limits.clip(record.message, limits.MESSAGE),
                "retry_count": record.retry_count,
                "stack_trace": record.stack_trace
                and limits.clip_start(record.stack_trace, limits.TRACE),
                "source_line": record.source_line,
                # The key the database holds unique per run and customer (migration 0014); a
                # bad line and a flag beside a result (several rules may flag one answer) are
                # not failed attempts.
                "attempt": None if record.code in _NOT_ATTEMPTS else record.retry_count,
                "logged_at": record.logged_at,
            }
        )
        self._maybe_full()

    def add_result(self, record: ResultRecord) -> None:
        self._batch.results.append(
            {
                **self._keys,
                "customer_id": record.customer_id,
                "status": record.status.value,
                "balance": record.balance,
                "min_balance": record.min_balance,
                "currency": record.currency,
                "error_code": record.code.value if record.code else None,
                "attempts": record.attempts,
                "checked_at": record.checked_at,
            }
        )
        self._maybe_full()

    def add_alert(self, record: AlertRecord) -> None:
        self._batch.alerts.append(
            {
                **self._keys,
                "customer_id": record.customer_id,
                "error_code": record.code.value,
                "attempts": record.attempts,
                "failed_at": record.failed_at,
                "created_at": self._clock.now(),
            }
        )

    def segments(self) -> list[Segment]:
        """This session's chain segments as far as they are committed, for their seals."""
        return [
            Segment(chain.table, chain.segment, self._run_id, self._day, chain.seq, chain.head)
            for chain in self._chains.values()
            if chain.seq
        ]

    def segment_names(self) -> list[str]:
        """This session's segment names, whether or not any row of them is committed yet."""
        return [chain.segment for chain in self._chains.values()]

    def _maybe_full(self) -> None:
        if len(self._batch) >= self._max_batch:
            self._full.set()

    async def run(self) -> None:
        """Commit a batch every `interval` seconds (sooner when full) until `stop`."""
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._interval):
                    await self._full.wait()
            await self.flush()
        # Rows added while the last commit ran are still waiting.
        await self.flush()

    def stop(self) -> None:
        """Make `run` commit what is left and return."""
        self._stopping = True
        self._full.set()

    async def flush(self) -> None:
        """Commit everything collected so far."""
        self._full.clear()
        batch, self._batch = self._batch, _Batch()
        if len(batch):
            # Committed on the event loop's own thread, on purpose: a writer thread loses the
            # GIL to the busy loop on every row the driver executes (a convoy that made a
            # 2,000-row commit take 4 s); in the loop's thread the same commit takes ~30 ms.
            self._commit(batch)
            await asyncio.sleep(0)

    def _commit(self, batch: _Batch) -> None:
        with self._engine.begin() as connection:
            tails = self._write(connection, batch)
        crashpoints.reach(Point.AFTER_COMMIT)
        # The chains move on only once their rows are in: a failed commit leaves them as they
        # were (and the run stops).
        for name, tail in tails.items():
            self._chains[name].advance(tail)

    def _write(self, connection: Connection, batch: _Batch) -> dict[str, tuple[int, str]]:
        tails = {}
        if self._owner is not None:
            fence(connection, business_date=self._day, me=self._owner)
        if self._guard is not None:
            self._guard(connection)
        errors = self._new_attempts(connection, batch.errors)
        if errors:
            tails["errors"] = self._chains["errors"].stamp(errors)
            self._insert_errors(connection, errors)
            crashpoints.reach(Point.MID_COMMIT)
        results = self._new_results(connection, batch.results)
        if results:
            # Every row of a chain must be written, so results already in (a resumed run's
            # overlap) are left out here rather than silently skipped by the database.
            tails["results"] = self._chains["results"].stamp(results)
            self._insert_results(connection, results)
        # An alert goes with its customer's result: when a resumed session's result was
        # already written (by a session before, or another worker), so was its alert, and a
        # second one under another code would alert the customer twice.
        raised = batch.alerts
        if raised and self._resumed:
            kept = {row["customer_id"] for row in results}
            raised = [row for row in raised if row["customer_id"] in kept]
        if raised:
            connection.execute(insert_ignoring_duplicates(alerts, self._dialect), raised)
        return tails

    def _new_attempts(
        self, connection: Connection, errors: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """The rows whose attempt is not logged yet: a resumed customer goes on at its next
        attempt, so this only drops what a crash let through twice; the database's unique key
        would refuse it, stopping the run, and the chain needs every stamped row written."""
        if not errors or not self._resumed:
            return errors
        e = error_logs.c
        ids = list({row["customer_id"] for row in errors if row["attempt"] is not None})
        logged: set[tuple[str, int]] = set(
            connection.execute(
                select(e.customer_id, e.attempt).where(
                    e.run_id == self._run_id, e.customer_id.in_(ids), e.attempt.is_not(None)
                )
            ).all()
        )
        fresh = []
        for row in errors:
            key = (row["customer_id"], row["attempt"])
            if row["attempt"] is None or key not in logged:
                logged.add(key)
                fresh.append(row)
        return fresh

    def _new_results(
        self, connection: Connection, results: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        if not results:
            return results
        if not self._resumed:  # a fresh run: this session writes every customer once
            return results
        r = verification_results.c
        ids = [row["customer_id"] for row in results]
        mine = r.run_id == self._run_id
        written = set(connection.scalars(select(r.customer_id).where(mine, r.customer_id.in_(ids))))
        fresh: dict[str, dict[str, Any]] = {}
        for row in results:
            if row["customer_id"] not in written:
                fresh.setdefault(row["customer_id"], row)  # one result per customer, as before
        return list(fresh.values())
