"""A run on several cores (`engine.processes`): this process keeps the lease, reads the
customers and writes every row; fetcher processes (`engine.fetcher`) do the requests.

Customers go out in chunks, on demand, so a fetcher slowed by retries takes fewer. Each
fetcher's records come back over its pipe and go to the run's writer as if its own workers
had made them. A fetcher that dies stops the run (exit 1, one line); the next run of the date
resumes it from the database, like any crash. Killed, this process takes its fetchers with
it (they die with their parent)."""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing
import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from balmon import children
from balmon.config import Settings
from balmon.engine import fetcher
from balmon.engine.customers import Customer
from balmon.engine.fetcher import FetcherPlan, Rows, as_tuple
from balmon.engine.records import RecordSink
from balmon.engine.worker import Tally
from balmon.errors import FetcherLost

# Customers per message to a fetcher; it asks for more when it holds fewer than `low_water`.
_CHUNK = 500


def cores() -> int:
    """The cores this process may run on (its CPU affinity, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


@dataclass
class _Fetcher:
    index: int
    process: BaseProcess
    connection: Connection
    done: asyncio.Future[None]


class FetcherProcesses:
    """`count` fetcher processes for one run at a time."""

    def __init__(self, settings: Settings, count: int) -> None:
        self._settings = settings
        self.count = count

    skips_done = True

    async def run(
        self,
        *,
        run_id: int,
        business_date: str,
        customers: Iterator[Customer],
        sink: RecordSink,
        tally: Tally,
    ) -> None:
        """Until every customer has an outcome, written to `sink`."""
        loop = asyncio.get_running_loop()
        context = multiprocessing.get_context("spawn")
        low_water = max(2 * self._settings.engine.concurrency // self.count, 100)
        fetchers: list[_Fetcher] = []
        supply = _Handout(customers)
        try:
            for index in range(self.count):
                mine, theirs = context.Pipe()
                plan = FetcherPlan(run_id, index, self.count, business_date, low_water)
                # A fetcher must not outlive its run's process (killed, it cannot stop us).
                process = children.spawn(
                    context,
                    target="balmon.engine.fetcher:main",
                    connection=theirs,
                    args=(self._settings, plan),
                    death_signal=signal.SIGKILL,
                    name=f"balmon-fetcher-{index}",
                    daemon=True,
                )
                process.start()
                theirs.close()
                one = _Fetcher(index, process, mine, loop.create_future())
                fetchers.append(one)
                loop.add_reader(mine.fileno(), self._receive, one, supply, sink, tally)
                # uvloop makes a watched descriptor non-blocking; `recv` reads a whole message
                # once one has begun to arrive, which needs a blocking descriptor.
                os.set_blocking(mine.fileno(), True)
            await asyncio.gather(*(one.done for one in fetchers))
        finally:
            for one in fetchers:
                loop.remove_reader(one.connection.fileno())
                # Stopped (SIGTERM, Ctrl-C) or failed: what a fetcher has not sent is lost
                # either way, and the resumed run asks for it again.
                if not _finished(one.done):
                    one.process.kill()
                one.process.join(timeout=10)
                if one.process.is_alive():
                    one.process.kill()
                    one.process.join()
                one.connection.close()

    def _receive(self, one: _Fetcher, supply: _Handout, sink: RecordSink, tally: Tally) -> None:
        if one.done.done():
            return
        try:
            while one.connection.poll():
                kind, payload = one.connection.recv()
                if kind == "rows":
                    _write(payload, sink, tally)
                elif kind == "more":
                    one.connection.send(supply.next_chunk())
                elif kind == "done":
                    one.done.set_result(None)
                    return
        except (EOFError, OSError):
            one.process.join(timeout=5)
            one.done.set_exception(
                FetcherLost(
                    f"fetcher process {one.index} ended unexpectedly "
                    f"(exit {one.process.exitcode}); run the same date again to resume"
                )
            )
        except Exception as exc:  # reading the customer file or the database failed
            one.done.set_exception(exc)


def _finished(done: asyncio.Future[None]) -> bool:
    return done.done() and not done.cancelled() and done.exception() is None


class _Handout:
    """The run's customers, a chunk at a time; None once they are all handed out."""

    def __init__(self, customers: Iterator[Customer]) -> None:
        self._customers = customers
        self._ended = False

    def next_chunk(self) -> list[fetcher.CustomerTuple] | None:
        if self._ended:
            return None
        chunk = [as_tuple(c) for c in itertools.islice(self._customers, _CHUNK)]
        if not chunk:
            self._ended = True
            return None
        return chunk


def _write(rows: Rows, sink: RecordSink, tally: Tally) -> None:
    for error in rows.errors:
        sink.add_error(error)
    for result in rows.results:
        sink.add_result(result)
        tally.finish(result.status)
    for alert in rows.alerts:
        sink.add_alert(alert)
    tally.failed_attempts += len(rows.errors)
    tally.retries += rows.retries


def fetchers_for(settings: Settings) -> FetcherProcesses | None:
    """The run's fetcher processes as `engine.processes` asks, or None for one process."""
    count = settings.engine.processes or cores()
    return FetcherProcesses(settings, count) if count > 1 else None
