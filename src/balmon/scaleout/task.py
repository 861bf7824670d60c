"""What a `balmon worker` does with one chunk: the same engine as a local run (queue, retry
policy, breaker, rate limit, codes, error log, audit chain, alert records) over the chunk's
customers, written under the coordinator's lease.

Every write is idempotent per (run, customer) and per (run, customer, attempt): a chunk
delivered again goes on from what is already recorded (`inputs.still_to_do`), so it never
makes a second result, error row or alert."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
from collections.abc import Coroutine
from datetime import date
from functools import cache, partial
from typing import Any

from sqlalchemy import Engine

from balmon import aio, audit, logs
from balmon.clock import Clock, SystemClock
from balmon.config import Settings
from balmon.config.settings import DatabaseSettings
from balmon.engine.crew import build_crew
from balmon.engine.customers import Customer
from balmon.engine.inputs import PreviousBalances, still_to_do
from balmon.engine.lease import Owner, fence
from balmon.engine.records import AlertRecord, ResultRecord
from balmon.engine.worker import Tally
from balmon.engine.writer import BatchWriter
from balmon.errors import ErrorCode
from balmon.scaleout import chunks
from balmon.scaleout.chunks import Verdict
from balmon.source import BalanceSource
from balmon.source.clients import open_source
from balmon.storage import engine_for
from balmon.storage.states import ChunkStatus, Status

log = logging.getLogger("balmon.scaleout")


@cache
def _engine(database: DatabaseSettings) -> Engine:
    # One per worker process, made after the fork (a pooled connection must not be shared).
    return engine_for(database, read_cache=False)


class _Loop:
    """One event loop and one HTTP client per worker process, for all its chunks: a new
    loop, client pool and TLS context per chunk cost more than a small chunk's requests."""

    def __init__(self) -> None:
        self._runner: asyncio.Runner | None = None
        self._sources: dict[int, BalanceSource] = {}

    def run(self, coroutine: Coroutine[Any, Any, None]) -> None:
        if self._runner is None:
            self._runner = asyncio.Runner(loop_factory=aio.new_event_loop)
        self._runner.run(coroutine)

    def source(self, settings: Settings) -> BalanceSource:
        key = id(settings)
        if key not in self._sources:
            self._sources[key] = open_source(
                settings.source, concurrency=settings.engine.concurrency
            )
        return self._sources[key]


_loop = _Loop()


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def verify_chunk(
    settings: Settings, run_id: int, seq: int, business_date: str, owner: tuple[str, int]
) -> str:
    """Verify chunk `seq` of `run_id`; returns what happened (for the worker's log)."""
    engine = _engine(settings.database)
    clock = SystemClock()
    day = date.fromisoformat(business_date)
    holder = Owner(*owner)
    logs.bind(run_id=run_id, business_date=business_date, chunk=seq)
    me = worker_name()
    taken = chunks.claim(
        engine,
        run_id,
        seq,
        worker=me,
        owner=holder,
        business_date=day,
        now=clock.now(),
        stale_after=settings.engine.stale_after_seconds,
        max_deliveries=settings.celery.max_deliveries,
    )
    if taken.verdict is Verdict.SKIP:
        return "skipped: finished, or sent by a coordinator that no longer holds the run"
    if taken.verdict is Verdict.WAIT:
        # Another worker holds it and is alive. Not waited for here (that would hold this
        # pool process): if that worker dies, the coordinator sends the chunk again.
        return "skipped: another worker holds it"
    chunk = _Chunk(settings, engine, clock, run_id, seq, day, holder, me)
    try:
        if taken.verdict is Verdict.POISON:
            log.error(
                "chunk delivered too often: its customers end as INTERNAL_ERROR",
                extra={"deliveries": taken.deliveries},
            )
            _loop.run(chunk.poison(taken.customers))
            return "poisoned"
        _loop.run(chunk.verify(taken.customers))
        return "done"
    except Exception:
        # A failure this process lived through (a database error, a refused write) is not
        # what `max_deliveries` counts: only a delivery whose worker died counts.
        with contextlib.suppress(Exception):
            chunks.release(engine, run_id, seq, worker=me)
        raise


class _Chunk:
    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        clock: Clock,
        run_id: int,
        seq: int,
        day: date,
        owner: Owner,
        me: str,
    ) -> None:
        self._settings, self._engine, self._clock = settings, engine, clock
        self._run_id, self._seq, self._day = run_id, seq, day
        self._owner, self._me = owner, me

    def _writer(self) -> BatchWriter:
        return BatchWriter(
            engine=self._engine,
            run_id=self._run_id,
            business_date=self._day,
            clock=self._clock,
            interval=self._settings.engine.commit_interval_seconds,
            max_batch=self._settings.engine.write_batch_size,
            resumed=True,
            owner=self._owner,
            guard=partial(chunks.hold, run_id=self._run_id, seq=self._seq, worker=self._me),
        )

    async def verify(self, members: list[Customer]) -> None:
        settings = self._settings
        # The bank's rate limit is shared by the chunks that run at once over all workers.
        rate = settings.source.max_requests_per_second
        if rate is not None:
            share = rate / settings.celery.parallel_chunks
            source_settings = settings.source.model_copy(update={"max_requests_per_second": share})
            settings = settings.model_copy(update={"source": source_settings})
        writer = self._writer()
        source = _loop.source(self._settings)
        todo = await asyncio.to_thread(self._todo, members)
        crew = build_crew(
            settings=settings,
            run_id=self._run_id,
            source=source,
            customers=iter(todo),
            sink=writer,
            tally=Tally(),
            clock=self._clock,
            rng=random.Random(),
            business_date=self._day,
        )
        writing = asyncio.create_task(writer.run())
        beating = asyncio.create_task(self._beat())
        work = asyncio.create_task(crew.run())
        try:
            # The crew stops as soon as the chunk is no longer this worker's (another took it
            # over) or its writes fail (the database, or a coordinator that lost the lease):
            # asking the bank for balances nobody can record would only cost requests.
            ended = {work, beating, writing}
            await asyncio.wait(ended, return_when=asyncio.FIRST_COMPLETED)
            if not work.done():
                work.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await work
        finally:
            beating.cancel()
            writer.stop()
            await asyncio.shield(writing)  # raises when the writes failed
        if work.cancelled():
            log.warning("chunk taken over by another worker; left to it")
            return
        self._finish(writer, ChunkStatus.DONE)

    def _todo(self, members: list[Customer]) -> list[Customer]:
        """The chunk's customers still to verify, each with its previous balance (read here,
        per chunk, by the worker that verifies them)."""
        todo = list(still_to_do(self._engine, self._run_id, members))
        if not self._settings.quality.on(ErrorCode.BALANCE_JUMP):
            return todo
        return PreviousBalances.of(self._engine, self._day).attach(todo)

    async def poison(self, members: list[Customer]) -> None:
        writer = self._writer()
        todo = await asyncio.to_thread(
            lambda: list(still_to_do(self._engine, self._run_id, members))
        )
        now = self._clock.now()
        for customer in todo:
            writer.add_result(
                ResultRecord(
                    customer_id=customer.customer_id,
                    status=Status.UNAVAILABLE,
                    balance=None,
                    min_balance=customer.min_balance,
                    code=ErrorCode.INTERNAL_ERROR,
                    attempts=customer.attempts_made,
                    checked_at=now,
                )
            )
            writer.add_alert(
                AlertRecord(
                    customer.customer_id, ErrorCode.INTERNAL_ERROR, customer.attempts_made, now
                )
            )
        await writer.flush()
        self._finish(writer, ChunkStatus.POISONED)

    async def _beat(self) -> None:
        """Renew the hold until another worker takes the chunk over. A failed renewal (the
        database for a moment) is tried again: only a takeover ends the hold."""
        while True:
            await asyncio.sleep(self._settings.engine.heartbeat_seconds)
            try:
                held = await asyncio.to_thread(
                    chunks.beat,
                    self._engine,
                    self._run_id,
                    self._seq,
                    worker=self._me,
                    now=self._clock.now(),
                )
            except Exception:
                log.warning("chunk heartbeat failed; trying again", exc_info=True)
                continue
            if not held:
                return

    def _finish(self, writer: BatchWriter, status: ChunkStatus) -> None:
        """Seal this session's chain segments and record the chunk's end, in one transaction
        under the coordinator's lease and this worker's hold on the chunk (a worker taken over
        meanwhile seals nothing: the coordinator seals its segments at the run's end)."""
        now = self._clock.now()
        with self._engine.begin() as connection:
            fence(connection, business_date=self._day, me=self._owner)
            chunks.hold(connection, self._run_id, self._seq, worker=self._me)
            for segment in writer.segments():
                audit.seal(connection, segment, by=f"worker {self._me}", now=now)
            chunks.finish(
                connection, self._run_id, self._seq, worker=self._me, status=status, now=now
            )
