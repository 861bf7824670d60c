"""The chunk record that decides what a delivery does, and what the coordinator sends."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, insert, select, update

from balmon.engine.customers import Customer
from balmon.engine.lease import Owner
from balmon.errors import StorageError
from balmon.scaleout import chunks
from balmon.scaleout.chunks import Verdict
from balmon.storage.schema import run_chunks, run_leases, verification_runs
from balmon.storage.states import ChunkStatus
from tests.conftest import on_backends

T0 = datetime(2026, 11, 29, 6, tzinfo=UTC)
STALE = 10.0


DAY = date(2026, 11, 29)
COORDINATOR = Owner("coordinator-host", 4242)


def _members(count: int) -> list[Customer]:
    return [Customer(f"C{n}", Decimal("1.5"), n + 2) for n in range(count)]


def _run(engine: Engine, count: int = 3) -> int:
    with engine.begin() as c:
        run_id = int(
            c.execute(
                insert(verification_runs).values(business_date=DAY, status="running", started_at=T0)
            ).inserted_primary_key[0]
        )
        c.execute(
            insert(run_leases).values(
                business_date=DAY, run_id=run_id, host=COORDINATOR.host, pid=COORDINATOR.pid
            )
        )
    assert chunks.record(engine, run_id, _members(4 * count), size=4) == count
    return run_id


def _claim(
    engine: Engine,
    run_id: int,
    worker: str,
    at: datetime,
    seq: int = 0,
    owner: Owner = COORDINATOR,
) -> chunks.Claim:
    return chunks.claim(
        engine,
        run_id,
        seq,
        worker=worker,
        owner=owner,
        business_date=DAY,
        now=at,
        stale_after=STALE,
        max_deliveries=2,
    )


@on_backends()
def test_a_chunk_is_recorded_once_and_keeps_its_customers(engine: Engine) -> None:
    run_id = _run(engine)
    # A restarted coordinator (other customers still to do, another chunk size): nothing new.
    assert chunks.record(engine, run_id, [Customer("X", Decimal(0), 9)], size=1) == 3
    taken = _claim(engine, run_id, "a:1", T0)
    assert taken.verdict is Verdict.WORK and taken.deliveries == 1
    assert [(c.customer_id, c.min_balance, c.line) for c in taken.customers] == [
        (f"C{n}", Decimal("1.5"), n + 2) for n in range(4)
    ]


@on_backends()
def test_a_second_delivery_waits_for_a_live_worker_and_takes_over_a_dead_ones(
    engine: Engine,
) -> None:
    run_id = _run(engine)
    assert _claim(engine, run_id, "a:1", T0).verdict is Verdict.WORK
    assert chunks.beat(engine, run_id, 0, worker="a:1", now=T0 + timedelta(seconds=8))
    # Alive (its heartbeat is fresh): the other delivery waits, and counts nothing.
    assert _claim(engine, run_id, "b:2", T0 + timedelta(seconds=12)).verdict is Verdict.WAIT
    # Silent for longer than stale_after: taken over, a second delivery.
    later = T0 + timedelta(seconds=30)
    taken = _claim(engine, run_id, "b:2", later)
    assert taken.verdict is Verdict.WORK and taken.deliveries == 2
    # The first worker learns it lost the chunk, and cannot finish it.
    assert not chunks.beat(engine, run_id, 0, worker="a:1", now=later)
    with engine.begin() as c:
        assert not chunks.finish(c, run_id, 0, worker="a:1", status=ChunkStatus.DONE, now=later)
        assert chunks.finish(c, run_id, 0, worker="b:2", status=ChunkStatus.DONE, now=later)
    assert _claim(engine, run_id, "c:3", later).verdict is Verdict.SKIP


@on_backends()
def test_the_delivery_after_max_deliveries_poisons_the_chunk(engine: Engine) -> None:
    run_id = _run(engine)
    verdicts = [
        _claim(engine, run_id, f"w:{n}", T0 + timedelta(seconds=60 * n)).verdict for n in range(3)
    ]
    assert verdicts == [Verdict.WORK, Verdict.WORK, Verdict.POISON]


@on_backends()
def test_the_coordinator_sends_what_is_new_silent_or_lost_and_nothing_twice(
    engine: Engine,
) -> None:
    run_id = _run(engine, count=4)
    quiet = 60.0

    def due(at: datetime, *, queue_empty: bool) -> list[int]:
        return chunks.to_send(engine, run_id, now=at, quiet_for=quiet, queue_empty=queue_empty)

    assert due(T0, queue_empty=False) == [0, 1, 2, 3]  # never sent
    chunks.mark_sent(engine, run_id, [0, 1, 2, 3], T0)
    assert due(T0 + timedelta(seconds=30), queue_empty=True) == []
    _claim(engine, run_id, "a:1", T0 + timedelta(seconds=5), seq=1)  # then silent
    _claim(engine, run_id, "b:2", T0 + timedelta(seconds=5), seq=2)
    chunks.beat(engine, run_id, 2, worker="b:2", now=T0 + timedelta(seconds=100))  # alive
    later = T0 + timedelta(seconds=120)
    # A busy queue still holds chunks 0 and 3; chunk 1's worker went silent.
    assert due(later, queue_empty=False) == [1]
    # An empty queue lost 0 and 3 (a broker restart).
    assert due(later, queue_empty=True) == [0, 1, 3]
    chunks.mark_sent(engine, run_id, [0, 1, 3], later)
    # Just sent again: not again until `quiet_for` has passed once more.
    assert due(later + timedelta(seconds=1), queue_empty=True) == []
    with engine.connect() as c:
        sent = dict(c.execute(select(run_chunks.c.seq, run_chunks.c.deliveries)).all())
    assert sent == {0: 0, 1: 1, 2: 1, 3: 0}  # sending counts no delivery


@on_backends()
def test_a_message_from_a_coordinator_that_lost_the_run_is_skipped_and_counts_nothing(
    engine: Engine,
) -> None:
    run_id = _run(engine)
    old = Owner("coordinator-host", 1111)  # restarted since: the lease is another's
    assert _claim(engine, run_id, "a:1", T0, owner=old).verdict is Verdict.SKIP
    with engine.begin() as c:
        c.execute(update(verification_runs).values(status="interrupted"))
    assert _claim(engine, run_id, "a:1", T0).verdict is Verdict.SKIP  # the run is over
    with engine.connect() as c:
        assert c.scalar(select(run_chunks.c.deliveries).where(run_chunks.c.seq == 0)) == 0


@on_backends()
def test_a_worker_taken_over_can_write_nothing_more_and_a_failure_it_lives_through_is_given_back(
    engine: Engine,
) -> None:
    run_id = _run(engine)
    _claim(engine, run_id, "a:1", T0)
    with engine.begin() as c:
        chunks.hold(c, run_id, 0, worker="a:1")  # still its own
    _claim(engine, run_id, "b:2", T0 + timedelta(seconds=30))  # a:1 went silent: taken over
    with pytest.raises(StorageError, match="taken over"), engine.begin() as c:
        chunks.hold(c, run_id, 0, worker="a:1")
    chunks.release(engine, run_id, 0, worker="b:2")  # a database error b:2 lived through
    with engine.connect() as c:
        row = c.execute(select(run_chunks).where(run_chunks.c.seq == 0)).one()
    assert (row.status, row.deliveries, row.worker) == ("pending", 1, None)


@on_backends()
def test_a_run_whose_customers_are_all_done_or_bad_has_no_chunks_and_is_complete(
    engine: Engine,
) -> None:
    with engine.begin() as c:
        run_id = int(
            c.execute(
                insert(verification_runs).values(business_date=DAY, status="running", started_at=T0)
            ).inserted_primary_key[0]
        )
    assert chunks.record(engine, run_id, [], size=10) == 0
    assert chunks.progress(engine, run_id).complete
