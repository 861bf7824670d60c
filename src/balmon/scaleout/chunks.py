"""A distributed run's chunks in the database: what each Celery task covers, whether it is
done, who holds it and how many times it was delivered. The broker only carries the chunk's
number; the database decides what happens to it."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from itertools import islice
from typing import Any

from sqlalchemy import Connection, Engine, func, select, update

from balmon.engine.customers import Customer
from balmon.engine.lease import Owner
from balmon.errors import StorageError
from balmon.storage.schema import run_chunks, run_leases, verification_runs
from balmon.storage.statements import insert_ignoring_duplicates
from balmon.storage.states import ChunkStatus, RunStatus

c = run_chunks.c


def batched(customers: Iterable[Customer], size: int) -> Iterator[list[Customer]]:
    iterator = iter(customers)
    while batch := list(islice(iterator, size)):
        yield batch


def encode(customers: list[Customer]) -> str:
    """The chunk's customers as the worker needs them, their expected currency included."""
    return json.dumps([_row(x) for x in customers], separators=(",", ":"))


def _row(customer: Customer) -> list[object]:
    # The previous balance is not here: the worker reads it for its chunk (`task`).
    return [customer.customer_id, str(customer.min_balance), customer.line, customer.currency]


def decode(text: str) -> list[Customer]:
    """A chunk recorded by this version, or by one before the currency column (three fields)."""
    return [_customer(*row) for row in json.loads(text)]


def _customer(customer_id: str, minimum: str, line: int, currency: str | None = None) -> Customer:
    return Customer(customer_id, Decimal(minimum), line, currency=currency)


def record(engine: Engine, run_id: int, customers: Iterable[Customer], size: int) -> int:
    """Record the run's chunks, all in one transaction, before any is sent; returns how
    many the run has. A run that has chunks already (its coordinator was restarted) keeps
    them as they are and records none: the customers still to do (a re-check's, say) or
    `chunk_size` may differ now, and numbering them again would put other customers under
    numbers that are taken. Its customers are still read (to the end), so the file's bad
    rows are written."""
    with engine.begin() as connection:
        recorded = int(connection.scalar(select(func.count()).where(c.run_id == run_id)) or 0)
        if recorded:
            for _ in customers:
                pass
            return recorded
        statement = insert_ignoring_duplicates(run_chunks, engine.dialect.name)
        count = 0
        rows: list[dict[str, Any]] = []
        for seq, members in enumerate(batched(customers, size)):
            rows.append(
                {"run_id": run_id, "seq": seq, "customers": encode(members), "size": len(members)}
            )
            count += 1
            if len(rows) == _INSERT_BATCH:
                connection.execute(statement, rows)
                rows = []
        if rows:
            connection.execute(statement, rows)
        return count


_INSERT_BATCH = 20


def mark_sent(engine: Engine, run_id: int, seqs: list[int], now: datetime) -> None:
    with engine.begin() as connection:
        connection.execute(
            update(run_chunks).where(c.run_id == run_id, c.seq.in_(seqs)).values(sent_at=now)
        )


def to_send(
    engine: Engine, run_id: int, *, now: datetime, quiet_for: float, queue_empty: bool
) -> list[int]:
    """The chunks to send: those never sent; those whose worker went silent (a heartbeat and
    a sending both older than `quiet_for`: the broker holds the task unacknowledged until
    its visibility timeout); and, once the queue is empty, those sent that long ago that no
    worker ever claimed (a broker that restarted without them). A chunk still waiting in a
    busy queue is not sent twice."""
    before = now - timedelta(seconds=quiet_for)
    quiet = c.sent_at < before
    silent = (c.status == ChunkStatus.RUNNING) & (c.claimed_at < before) & quiet
    lost = (c.status == ChunkStatus.PENDING) & quiet
    query = select(c.seq).where(
        c.run_id == run_id,
        c.sent_at.is_(None) | silent | (lost if queue_empty else silent),
    )
    with engine.connect() as connection:
        return sorted(connection.scalars(query))


def progress(engine: Engine, run_id: int) -> RunChunks:
    """The run's chunks now (none yet: a run whose customers were all done or bad)."""
    with engine.connect() as connection:
        found = of_runs(connection, [run_id]).get(run_id)
    return found or RunChunks(chunks=0, by_status={}, customers=0, customers_done=0, by_worker={})


class Verdict(StrEnum):
    WORK = "work"  # this delivery verifies the chunk
    SKIP = "skip"  # finished already, or its run is over: nothing to do
    WAIT = "wait"  # another worker holds it and is alive: ask again later
    POISON = "poison"  # delivered too often without finishing: end its customers


@dataclass(frozen=True)
class Claim:
    verdict: Verdict
    customers: list[Customer]
    deliveries: int


def claim(
    engine: Engine,
    run_id: int,
    seq: int,
    *,
    worker: str,
    owner: Owner,
    business_date: date,
    now: datetime,
    stale_after: float,
    max_deliveries: int,
) -> Claim:
    """Take the chunk for this delivery, counting it; or say why not.

    A message from a coordinator that no longer holds the date's lease (it was restarted,
    or the run ended) is skipped without counting: only the current coordinator's sendings
    count. A chunk held by a worker whose heartbeat is fresh is another delivery of a chunk
    being worked on (sent again, or redelivered): wait. A stale one's worker died: take it
    over, which counts as a delivery. The row lock makes a takeover wait for the old
    holder's commit in flight (`hold`)."""
    with engine.begin() as connection:
        lease = connection.execute(
            select(run_leases.c.host, run_leases.c.pid, run_leases.c.run_id).where(
                run_leases.c.business_date == business_date
            )
        ).one_or_none()
        status = connection.scalar(
            select(verification_runs.c.status).where(verification_runs.c.id == run_id)
        )
        current = lease is not None and (lease.host, lease.pid, lease.run_id) == (
            owner.host,
            owner.pid,
            run_id,
        )
        if not current or status != RunStatus.RUNNING:
            return Claim(Verdict.SKIP, [], 0)
        row = connection.execute(
            select(c.status, c.customers, c.deliveries, c.claimed_at)
            .where(c.run_id == run_id, c.seq == seq)
            .with_for_update()
        ).one_or_none()
        if row is None or row.status in (ChunkStatus.DONE, ChunkStatus.POISONED):
            return Claim(Verdict.SKIP, [], row.deliveries if row else 0)
        held = row.status == ChunkStatus.RUNNING and row.claimed_at is not None
        if held and (now - row.claimed_at).total_seconds() < stale_after:
            return Claim(Verdict.WAIT, [], row.deliveries)
        deliveries = row.deliveries + 1
        verdict = Verdict.POISON if deliveries > max_deliveries else Verdict.WORK
        _set(
            connection,
            run_id,
            seq,
            status=ChunkStatus.RUNNING,
            deliveries=deliveries,
            worker=worker,
            claimed_at=now,
        )
        return Claim(verdict, decode(row.customers), deliveries)


def hold(connection: Connection, run_id: int, seq: int, *, worker: str) -> None:
    """Hold the chunk for the rest of this transaction, or raise `StorageError` when another
    worker has taken it over. Every commit of a worker's writer starts here (with the
    lease's `fence`): a worker that was taken over, but is still running, writes nothing
    more, and a takeover's claim waits for its commit in flight."""
    row = connection.execute(
        select(c.status, c.worker)
        .where(c.run_id == run_id, c.seq == seq)
        .with_for_update(read=True)
    ).one_or_none()
    if row is None or row.worker != worker or row.status != ChunkStatus.RUNNING:
        raise StorageError(f"chunk {seq} of run {run_id} was taken over by another worker")


def _held_by(run_id: int, seq: int, worker: str) -> Any:
    return (
        (c.run_id == run_id)
        & (c.seq == seq)
        & (c.worker == worker)
        & (c.status == ChunkStatus.RUNNING)
    )


def release(engine: Engine, run_id: int, seq: int, *, worker: str) -> None:
    """Give the chunk back after a failure that was not the worker's loss (a database error,
    a refused write): this delivery does not count towards `max_deliveries`."""
    with engine.begin() as connection:
        connection.execute(
            update(run_chunks)
            .where(_held_by(run_id, seq, worker))
            .values(
                status=ChunkStatus.PENDING,
                deliveries=c.deliveries - 1,
                worker=None,
                claimed_at=None,
            )
        )


def beat(engine: Engine, run_id: int, seq: int, *, worker: str, now: datetime) -> bool:
    """Renew this worker's hold on the chunk; False when another worker has taken it over."""
    with engine.begin() as connection:
        renewed = connection.execute(
            update(run_chunks).where(_held_by(run_id, seq, worker)).values(claimed_at=now)
        )
        return bool(renewed.rowcount)


def finish(
    connection: Connection,
    run_id: int,
    seq: int,
    *,
    worker: str,
    status: ChunkStatus,
    now: datetime,
) -> bool:
    """Record the chunk's end; False when another worker took it over meanwhile."""
    ended = connection.execute(
        update(run_chunks)
        .where(c.run_id == run_id, c.seq == seq, c.worker == worker)
        .values(status=status, finished_at=now)
    )
    return bool(ended.rowcount)


def _set(connection: Connection, run_id: int, seq: int, **values: object) -> None:
    connection.execute(update(run_chunks).where(c.run_id == run_id, c.seq == seq).values(**values))


@dataclass(frozen=True)
class RunChunks:
    """A distributed run's chunks as the dashboard and /metrics show them."""

    chunks: int
    by_status: dict[str, int]
    customers: int
    customers_done: int
    # Chunks each worker finished (a worker is `host:pid` of its pool process).
    by_worker: dict[str, int]

    @property
    def poisoned(self) -> int:
        return self.by_status.get(ChunkStatus.POISONED, 0)

    @property
    def finished(self) -> int:
        return self.by_status.get(ChunkStatus.DONE, 0) + self.poisoned

    @property
    def complete(self) -> bool:
        return self.finished == self.chunks

    def as_dict(self) -> dict[str, object]:
        return {
            "chunks": self.chunks,
            "by_status": self.by_status,
            "customers": self.customers,
            "customers_done": self.customers_done,
            "by_worker": self.by_worker,
        }


def of_runs(connection: Connection, run_ids: list[int]) -> dict[int, RunChunks]:
    """The chunks of those runs that were distributed (a local run has none)."""
    if not run_ids:
        return {}
    rows = connection.execute(
        select(c.run_id, c.status, c.worker, func.count(), func.sum(c.size))
        .where(c.run_id.in_(run_ids))
        .group_by(c.run_id, c.status, c.worker)
    ).all()
    found: dict[int, dict[str, Any]] = {}
    for run_id, status, worker, count, size in rows:
        entry = found.setdefault(
            run_id, {"by_status": {}, "customers": 0, "customers_done": 0, "by_worker": {}}
        )
        entry["by_status"][status] = entry["by_status"].get(status, 0) + count
        entry["customers"] += int(size or 0)
        if status in (ChunkStatus.DONE, ChunkStatus.POISONED):
            entry["customers_done"] += int(size or 0)
            if worker:
                entry["by_worker"][worker] = entry["by_worker"].get(worker, 0) + count
    return {
        run_id: RunChunks(chunks=sum(e["by_status"].values()), **e) for run_id, e in found.items()
    }
