"""One process per business date: a live owner refuses others; a dead or silent one is replaced."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Connection, Engine, insert, select

from balmon.clock import SystemClock
from balmon.engine.inputs import _attempts_in_run
from balmon.engine.lease import (
    AlreadyCompleted,
    OpenedRun,
    Owner,
    close_run,
    fence,
    heartbeat,
    open_run,
)
from balmon.engine.records import ErrorRecord
from balmon.engine.writer import BatchWriter
from balmon.errors import ErrorCode, RunRefused, RunStuck, StorageError
from balmon.storage.schema import error_logs, run_leases, verification_runs
from balmon.storage.states import RunStatus
from tests.conftest import on_backends

DAY = date(2026, 11, 27)
NOW = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)


def _open(
    engine: Engine, me: Owner, now: datetime = NOW, mode: str = "normal"
) -> OpenedRun | AlreadyCompleted:
    return open_run(
        engine,
        business_date=DAY,
        mode=mode,
        customers_file="c.csv",
        me=me,
        clock=lambda: now,
        stale_after=60,
    )


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@on_backends()
def test_a_live_owner_on_this_host_refuses_a_second_process(engine: Engine) -> None:
    live = Owner(Owner.me().host, os.getppid())
    first = _open(engine, live)
    assert isinstance(first, OpenedRun) and not first.resumed
    with pytest.raises(RunRefused, match="in progress"):
        _open(engine, Owner.me())


@on_backends()
def test_a_dead_owner_on_this_host_is_taken_over_at_once(engine: Engine) -> None:
    first = _open(engine, Owner(Owner.me().host, _dead_pid()))
    second = _open(engine, Owner.me(), NOW + timedelta(seconds=1))
    assert isinstance(first, OpenedRun) and isinstance(second, OpenedRun)
    assert second.run_id == first.run_id and second.resumed


def test_another_host_is_trusted_until_its_heartbeat_is_stale(engine: Engine) -> None:
    other = Owner("worker-7", 4242)
    _open(engine, other)
    with pytest.raises(RunRefused):
        _open(engine, Owner.me(), NOW + timedelta(seconds=59))
    taken = _open(engine, Owner.me(), NOW + timedelta(seconds=61))
    assert isinstance(taken, OpenedRun) and taken.resumed
    with pytest.raises(StorageError, match="lost the lease"):
        heartbeat(engine, business_date=DAY, run_id=taken.run_id, me=other, now=NOW)


def test_heartbeats_keep_a_remote_owner_alive(engine: Engine) -> None:
    other = Owner("worker-7", 4242)
    opened = _open(engine, other)
    assert isinstance(opened, OpenedRun)
    heartbeat(
        engine, business_date=DAY, run_id=opened.run_id, me=other, now=NOW + timedelta(seconds=50)
    )
    with pytest.raises(RunRefused):
        _open(engine, Owner.me(), NOW + timedelta(seconds=100))


def test_completed_date_reports_the_run_and_rerun_starts_a_new_one(engine: Engine) -> None:
    me = Owner.me()
    opened = _open(engine, me)
    assert isinstance(opened, OpenedRun)
    close_run(
        engine,
        business_date=DAY,
        run_id=opened.run_id,
        me=me,
        status="completed",
        now=NOW,
        counts={},
    )
    again = _open(engine, me)
    assert again == AlreadyCompleted(opened.run_id)
    rerun = _open(engine, me, mode="rerun")
    assert isinstance(rerun, OpenedRun) and rerun.run_id != opened.run_id and rerun.kind == "rerun"
    with engine.connect() as c:
        statuses = [
            r.status for r in c.execute(select(verification_runs).order_by(verification_runs.c.id))
        ]
    assert statuses == ["completed", "running"]


def test_retry_unavailable_needs_an_earlier_run(engine: Engine) -> None:
    with pytest.raises(RunRefused, match="no run"):
        _open(engine, Owner.me(), mode="retry_unavailable")


OLD = Owner("worker-7", 4242)


def _late_writer_transaction(engine: Engine, run_id: int) -> Connection:
    """What a killed owner's writer leaves behind when its COMMIT was already on the wire:
    a transaction the server is still finishing, holding the date's lease fence."""
    connection = engine.connect()
    connection.begin()
    fence(connection, business_date=DAY, me=OLD)
    connection.execute(
        insert(error_logs).values(
            run_id=run_id,
            business_date=DAY,
            customer_id="X",
            error_code="TIMEOUT",
            error_message="no answer",
            retry_count=0,
            attempt=0,
            logged_at=NOW,
        )
    )
    return connection


@on_backends("postgresql", "mariadb")
def test_a_takeover_waits_for_the_old_owners_last_commit(engine: Engine) -> None:
    """A process killed after sending its COMMIT: the server may finish that commit after the
    next owner started. The takeover must wait for it, or the resumed run reads its customers'
    attempts without the last ones and asks the bank again (one soak saw a result of one
    attempt beside a logged failed attempt)."""
    first = _open(engine, OLD)
    assert isinstance(first, OpenedRun)
    late = _late_writer_transaction(engine, first.run_id)
    taken: list[OpenedRun | AlreadyCompleted] = []
    takeover = threading.Thread(
        target=lambda: taken.append(_open(engine, Owner.me(), NOW + timedelta(minutes=5)))
    )
    takeover.start()
    try:
        takeover.join(0.5)
        assert takeover.is_alive(), "the takeover went ahead of the old owner's commit"
    finally:
        late.commit()
        late.close()
    takeover.join(10)
    assert [o.run_id for o in taken if isinstance(o, OpenedRun)] == [first.run_id]
    assert _attempts_in_run(engine, first.run_id, ["X"]) == {"X": (1, "TIMEOUT")}


@on_backends()
def test_a_process_whose_lease_was_taken_over_writes_nothing(engine: Engine) -> None:
    """A paused process (stopped, swapped out) that wakes after a takeover: its writer's next
    commit and its closing of the run are refused, and the new owner's go through."""
    first = _open(engine, OLD)
    assert isinstance(first, OpenedRun)
    _open(engine, Owner.me(), NOW + timedelta(minutes=5))

    def writer(owner: Owner) -> BatchWriter:
        writer = BatchWriter(
            engine=engine,
            run_id=first.run_id,
            business_date=DAY,
            clock=SystemClock(),
            interval=60,
            max_batch=10,
            owner=owner,
        )
        writer.add_error(ErrorRecord(owner.host, ErrorCode.TIMEOUT, "no answer", 0, NOW))
        return writer

    with pytest.raises(StorageError, match="lost the lease"):
        asyncio.run(writer(OLD).flush())
    with pytest.raises(StorageError, match="lost the lease"):
        close_run(
            engine,
            business_date=DAY,
            run_id=first.run_id,
            me=OLD,
            status=RunStatus.COMPLETED,
            now=NOW,
            counts={},
        )
    asyncio.run(writer(Owner.me()).flush())
    with engine.connect() as c:
        logged = c.scalars(select(error_logs.c.customer_id)).all()
        status = c.scalar(select(verification_runs.c.status))
    assert logged == [Owner.me().host] and status == RunStatus.RUNNING


@on_backends("postgresql", "mariadb")
def test_a_takeover_blocked_by_a_transaction_that_never_ends_is_refused_in_one_line(
    engine: Engine,
) -> None:
    """An old owner's host cut off mid-transaction: the server keeps its lock until it notices
    the half-open connection (hours, with default keepalives). The takeover gives up after
    `stale_after` seconds, saying why, rather than hanging the scheduler."""
    first = _open(engine, OLD)
    assert isinstance(first, OpenedRun)
    stuck = _late_writer_transaction(engine, first.run_id)
    try:
        with pytest.raises(RunStuck, match="still held by a transaction of its previous owner"):
            open_run(
                engine,
                business_date=DAY,
                mode="normal",
                customers_file="c.csv",
                me=Owner.me(),
                clock=lambda: NOW + timedelta(minutes=5),
                stale_after=1,
            )
    finally:
        stuck.rollback()
        stuck.close()
    taken = _open(engine, Owner.me(), NOW + timedelta(minutes=5))
    assert isinstance(taken, OpenedRun) and taken.run_id == first.run_id


def _open_day(
    engine: Engine, day: date, me: Owner, clock: Callable[[], datetime], stale: float = 60
) -> OpenedRun | AlreadyCompleted:
    return open_run(
        engine,
        business_date=day,
        mode="normal",
        customers_file="c.csv",
        me=me,
        clock=clock,
        stale_after=stale,
    )


@on_backends("postgresql", "mariadb")
def test_a_lease_taken_after_a_lock_wait_is_stamped_when_taken(engine: Engine) -> None:
    """B waits for a lock on the lease row (another session holds it) before taking over a
    stale lease. Stamped with the time read before that wait, B's lease looked stale at once,
    and the old owner, thawed, took it back moments later (lease ping-pong)."""
    stale = 3.0
    clock = SystemClock()
    old = Owner("frozen-host", 4242)
    _open_day(engine, DAY, old, lambda: clock.now() - timedelta(seconds=10), stale)
    holder = engine.connect()
    holder.begin()
    holder.execute(select(run_leases).where(run_leases.c.business_date == DAY).with_for_update())
    release = threading.Timer(2.0, lambda: (holder.commit(), holder.close()))
    release.start()
    taker = Owner("instance-b", 7)
    try:
        taken = _open_day(engine, DAY, taker, clock.now, stale)
    finally:
        release.join()
    assert isinstance(taken, OpenedRun)
    time.sleep(1.5)  # the old owner wakes: B's lease is 1.5 s old, not 3.5 s
    with pytest.raises(RunRefused, match="in progress \\(host instance-b"):
        _open_day(engine, DAY, old, clock.now, stale)


@on_backends()
def test_one_date_runs_at_a_time_across_the_deployment(engine: Engine) -> None:
    """Two instances catching up took two dates at once, so the bank saw twice
    `engine.concurrency`; the next date now waits for the live one."""
    _open_day(engine, DAY, OLD, lambda: NOW)
    with pytest.raises(RunRefused, match="one date runs at a time"):
        _open_day(engine, DAY + timedelta(days=1), Owner.me(), lambda: NOW + timedelta(seconds=5))
    # An owner silent past stale_after no longer holds the deployment's one run.
    later = _open_day(
        engine, DAY + timedelta(days=1), Owner.me(), lambda: NOW + timedelta(seconds=61)
    )
    assert isinstance(later, OpenedRun)


def _race(engine: Engine, days: list[date], owners: list[Owner]) -> list[object]:
    """Each owner claims its date at the same moment, from a thread of its own."""
    start = threading.Barrier(len(days))
    outcomes: list[object] = []

    def claim(day: date, owner: Owner) -> None:
        start.wait()
        try:
            outcomes.append(_open_day(engine, day, owner, lambda: NOW))
        except RunRefused as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=claim, args=pair) for pair in zip(days, owners, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return outcomes


@on_backends()
def test_two_claims_of_two_dates_at_the_same_moment_start_one(engine: Engine) -> None:
    for round_ in range(4):
        days = [DAY + timedelta(days=10 * round_ + n) for n in (1, 2)]
        owners = [Owner(f"instance-{n}", 100 + n) for n in (1, 2)]
        outcomes = _race(engine, days, owners)
        opened = [o for o in outcomes if isinstance(o, OpenedRun)]
        assert len(opened) == 1 and len(outcomes) == 2, outcomes
        [winner] = opened
        with engine.connect() as c:
            day, host = c.execute(
                select(run_leases.c.business_date, run_leases.c.host).where(
                    run_leases.c.run_id == winner.run_id
                )
            ).one()
        close_run(
            engine,
            business_date=day,
            run_id=winner.run_id,
            me=next(o for o in owners if o.host == host),
            status=RunStatus.COMPLETED,
            now=NOW,
            counts={},
        )
