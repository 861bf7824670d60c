"""The chunk record that decides what a delivery does, and what the coordinator sends."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Engine, insert, select

from balmon.engine.customers import Customer
from balmon.scaleout import chunks
from balmon.scaleout.chunks import Verdict
from balmon.storage.schema import run_chunks, verification_runs
from balmon.storage.states import ChunkStatus
from tests.conftest import on_backends

T0 = datetime(2026, 11, 29, 6, tzinfo=UTC)
STALE = 10.0


def _run(engine: Engine, count: int = 3) -> int:
    with engine.begin() as c:
        run_id = int(
            c.execute(
                insert(verification_runs).values(
                    business_date=date(2026, 11, 29), status="running", started_at=T0
                )
            ).inserted_primary_key[0]
        )
    members = [Customer(f"C{n}", Decimal("1.5"), n + 2) for n in range(4)]
    chunks.record(engine, run_id, [(seq, members) for seq in range(count)])
    return run_id


def _claim(engine: Engine, run_id: int, worker: str, at: datetime, seq: int = 0) -> chunks.Claim:
    return chunks.claim(
        engine, run_id, seq, worker=worker, now=at, stale_after=STALE, max_deliveries=2
    )


@on_backends()
def test_a_chunk_is_recorded_once_and_keeps_its_customers(engine: Engine) -> None:
    run_id = _run(engine)
    chunks.record(engine, run_id, [(0, [Customer("X", Decimal(0), 9)])])  # a resumed coordinator
    taken = _claim(engine, run_id, "a:1", T0)
    assert taken.verdict is Verdict.WORK and taken.deliveries == 1
    assert [(c.customer_id, c.min_balance, c.line) for c in taken.customers][:2] == [
        ("C0", Decimal("1.5"), 2),
        ("C1", Decimal("1.5"), 3),
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
