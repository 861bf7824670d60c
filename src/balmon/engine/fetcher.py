"""A fetcher process of a run on several cores (`engine.processes`): the engine's workers
over the customers its parent hands it, every record sent back to the parent, which is the
run's one writer (so SQLite has one writer, and the audit chain one segment per session). It
reads the database, never writes it: its customers' previous balances, a chunk at a time, for
the BALANCE_JUMP rule (the parent feeds every fetcher and is the run's busiest process).

Messages on the pipe, pickled by `multiprocessing`:
- parent to fetcher: a list of customers as tuples (`Customer` fields but the previous
  balance), or None for "no more";
- fetcher to parent: ("more", None) when its customers run low, ("rows", Rows) with the
  records of finished attempts, ("done", None) once every customer it got has an outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
from collections import deque
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from multiprocessing.connection import Connection

from balmon import aio, logs
from balmon.clock import SystemClock
from balmon.config import Settings
from balmon.engine.crew import build_crew, share_of
from balmon.engine.customers import Customer
from balmon.engine.inputs import PreviousBalances
from balmon.engine.records import AlertRecord, ErrorRecord, ResultRecord
from balmon.engine.worker import Tally
from balmon.errors import ErrorCode
from balmon.source.clients import open_source
from balmon.storage import engine_for

CustomerTuple = tuple[str, Decimal, int, int, str | None, str | None]
# How often a fetcher sends its records (or sooner, at `_SEND_AT` records).
_SEND_EVERY = 0.05
_SEND_AT = 500


def as_tuple(customer: Customer) -> CustomerTuple:
    return (
        customer.customer_id,
        customer.min_balance,
        customer.line,
        customer.attempts_made,
        customer.last_code,
        customer.currency,
    )


@dataclass
class Rows:
    errors: list[ErrorRecord] = field(default_factory=list)
    results: list[ResultRecord] = field(default_factory=list)
    alerts: list[AlertRecord] = field(default_factory=list)
    retries: int = 0

    def __len__(self) -> int:
        return len(self.errors) + len(self.results) + len(self.alerts)


@dataclass(frozen=True)
class FetcherPlan:
    run_id: int
    index: int
    processes: int
    business_date: str
    low_water: int


class _Supply:
    """The customers the parent hands over, asked for before they run out. Blocks (briefly,
    in the loop's thread) only when none are left and more are coming."""

    def __init__(
        self, connection: Connection, low_water: int, history: PreviousBalances | None
    ) -> None:
        self._connection = connection
        self._low = low_water
        self._history = history
        self._buffer: deque[Customer] = deque()
        self._asked = False
        self._ended = False

    def __iter__(self) -> _Supply:
        return self

    def __next__(self) -> Customer:
        if self._asked and self._connection.poll():
            self._receive()
        if not self._asked and not self._ended and len(self._buffer) < self._low:
            self._connection.send(("more", None))
            self._asked = True
        while not self._buffer:
            if self._ended:
                raise StopIteration
            self._receive()
        return self._buffer.popleft()

    def _receive(self) -> None:
        chunk = self._connection.recv()
        self._asked = False
        if chunk is None:
            self._ended = True
            return
        customers = [Customer(*row) for row in chunk]
        # This process reads its own customers' history: the parent, which feeds every
        # fetcher and writes every row, is the run's busiest process.
        self._buffer.extend(self._history.attach(customers) if self._history else customers)


class _PipeSink:
    """The workers' records, sent to the parent in batches."""

    def __init__(self, connection: Connection, tally: Tally) -> None:
        self._connection = connection
        self._tally = tally
        self._rows = Rows()
        self._retries_sent = 0
        self._due = False

    def add_error(self, record: ErrorRecord) -> None:
        self._rows.errors.append(record)
        self._send_if_full()

    def add_result(self, record: ResultRecord) -> None:
        self._rows.results.append(record)
        self._send_if_full()

    def add_alert(self, record: AlertRecord) -> None:
        self._rows.alerts.append(record)

    def _send_if_full(self) -> None:
        # Not at once: a worker adds an outcome's records one after another (an attempt, the
        # result, its alert) without yielding, and they must travel in one message, or a
        # fetcher killed in between leaves a result without its alert.
        if len(self._rows) >= _SEND_AT and not self._due:
            self._due = True
            asyncio.get_running_loop().call_soon(self.send)

    def send(self) -> None:
        self._due = False
        if not len(self._rows):
            return
        rows, self._rows = self._rows, Rows()
        rows.retries = self._tally.retries - self._retries_sent
        self._retries_sent = self._tally.retries
        self._connection.send(("rows", rows))

    async def run(self) -> None:
        while True:
            await asyncio.sleep(_SEND_EVERY)
            self.send()


async def _fetch(connection: Connection, settings: Settings, plan: FetcherPlan) -> None:
    concurrency = share_of(settings.engine.concurrency, plan.processes)
    source = open_source(settings.source, concurrency=concurrency)
    day = date.fromisoformat(plan.business_date)
    engine = engine_for(settings.database, read_cache=False)
    history = None
    if settings.quality.on(ErrorCode.BALANCE_JUMP):
        history = await asyncio.to_thread(PreviousBalances.of, engine, day)
    tally = Tally()
    sink = _PipeSink(connection, tally)
    crew = build_crew(
        settings=settings,
        run_id=plan.run_id,
        source=source,
        customers=_Supply(connection, plan.low_water, history),
        sink=sink,
        tally=tally,
        clock=SystemClock(),
        rng=random.Random(),
        business_date=day,
        processes=plan.processes,
    )
    sending = asyncio.create_task(sink.run())
    try:
        await crew.run()
    finally:
        sending.cancel()
        await source.aclose()
        engine.dispose()
    sink.send()
    connection.send(("done", None))


def main(connection: Connection, settings: Settings, plan: FetcherPlan) -> None:
    """The fetcher process's entry point (spawned by `balmon.children`, which has already
    made it follow its parent)."""
    # The parent decides when the run stops (SIGTERM, Ctrl-C reach the whole process group).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logs.configure(settings.logging)
    logs.bind(run_id=plan.run_id, business_date=plan.business_date, fetcher=plan.index)
    # EOF or a broken pipe: the parent is gone; its run stops, and resumes without us.
    with contextlib.suppress(EOFError, BrokenPipeError, ConnectionResetError):
        aio.run(_fetch(connection, settings, plan))
