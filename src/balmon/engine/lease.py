"""Open, own and close a business date's run: one process per date, resumable after a crash."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import Connection, Engine, Row, insert, select, update
from sqlalchemy.exc import DBAPIError

from balmon import audit, limits
from balmon.engine.state import latest_run
from balmon.errors import LeaseLost, RunRefused, RunStuck
from balmon.storage.schema import run_leases, run_slot, verification_runs
from balmon.storage.statements import is_lock_timeout, wait_for_locks_at_most
from balmon.storage.states import RunKind, RunStatus

Mode = Literal["normal", "rerun", "retry_unavailable"]
_KIND = {
    "normal": RunKind.FULL,
    "rerun": RunKind.RERUN,
    "retry_unavailable": RunKind.RETRY_UNAVAILABLE,
}


@dataclass(frozen=True, slots=True)
class Owner:
    host: str
    pid: int

    @classmethod
    def me(cls) -> Owner:
        return cls(socket.gethostname(), os.getpid())


@dataclass(frozen=True, slots=True)
class OpenedRun:
    run_id: int
    kind: str
    resumed: bool
    parent_run_id: int | None


@dataclass(frozen=True, slots=True)
class AlreadyCompleted:
    run_id: int


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def owner_alive(row: Row[Any], *, me: Owner, now: datetime, stale_after: float) -> bool:
    """Whether the lease row's owner still counts as running the date."""
    pid, host, beat = row.pid, row.host, row.heartbeat_at
    if pid is None or beat is None:
        return False
    if host == me.host and (pid == me.pid or not _pid_alive(pid)):
        return False
    return bool((now - beat).total_seconds() < stale_after)


def _hold_slot(connection: Connection, now: datetime, stale: float) -> None:
    """Take the deployment's one claim slot for this transaction: a write, so that it is a
    lock on every database (SQLite has no row locks, but one writer at a time)."""
    try:
        held = connection.execute(update(run_slot).where(run_slot.c.id == 1).values(claimed_at=now))
    except DBAPIError as exc:
        if not is_lock_timeout(exc):
            raise
        raise RunStuck(
            f"another process has been claiming a run for over {stale:g}s; "
            "end its session on the database server if it is stuck, then run again"
        ) from None
    if held.rowcount != 1:  # a database restored without the row migration 0018 wrote
        connection.execute(insert(run_slot).values(id=1, claimed_at=now))


def _refuse_if_another_date_runs(
    connection: Connection, day: date, me: Owner, now: datetime, stale: float
) -> None:
    others = connection.execute(
        select(run_leases).where(run_leases.c.business_date != day, run_leases.c.pid.is_not(None))
    ).all()
    for row in others:
        if owner_alive(row, me=me, now=now, stale_after=stale):
            raise RunRefused(
                f"the run for {row.business_date} is in progress (host {row.host}, pid "
                f"{row.pid}); one date runs at a time, {day} waits for it"
            )


def _claim(
    connection: Connection, day: date, me: Owner, clock: Callable[[], datetime], stale: float
) -> datetime:
    """Take the date's lease; returns the time it was taken, read after every lock wait, so
    that a lease is never born stale (a claim stamped with the time before a long wait looked
    abandoned at once, and its old owner took it back)."""
    # Bounded waits: a dead owner's transaction left open on the server (its host cut off
    # with a half-open connection) holds its rows until the server notices.
    wait_for_locks_at_most(connection, stale)
    _hold_slot(connection, clock(), stale)
    # Locked, not just read: the claim waits for the old owner's last transactions (see
    # `fence`), and on MariaDB the transaction's snapshot is only taken after that wait.
    try:
        row = connection.execute(
            select(run_leases).where(run_leases.c.business_date == day).with_for_update()
        ).one_or_none()
    except DBAPIError as exc:
        if not is_lock_timeout(exc):
            raise
        raise RunStuck(
            f"the run for {day} is still held by a transaction of its previous owner "
            f"(waited {stale:g}s); end that session on the database server, then run again"
        ) from None
    now = clock()
    if row is not None and owner_alive(row, me=me, now=now, stale_after=stale):
        raise RunRefused(f"the run for {day} is in progress (host {row.host}, pid {row.pid})")
    _refuse_if_another_date_runs(connection, day, me, now, stale)
    values = {"host": me.host, "pid": me.pid, "heartbeat_at": now}
    if row is None:
        # No other claim can insert it meanwhile: they all wait for the slot.
        connection.execute(insert(run_leases).values(business_date=day, **values))
        return now
    taken = connection.execute(
        update(run_leases)
        .where(run_leases.c.business_date == day)
        .where(run_leases.c.pid.is_(None) if row.pid is None else run_leases.c.pid == row.pid)
        .where(run_leases.c.host.is_(None) if row.host is None else run_leases.c.host == row.host)
        .values(**values)
    )
    if taken.rowcount != 1:
        raise RunRefused(f"another process took over the run for {day} just now")
    return now


def fence(connection: Connection, *, business_date: date, me: Owner) -> None:
    """Hold the date's lease for the rest of this transaction, or raise `LeaseLost` when
    another process has taken the run over.

    Every transaction of the run's writer starts here. The shared row lock is what makes a
    takeover safe: a killed process's COMMIT may still be finishing on the server when the
    next process starts, and the takeover's claim (which locks the row exclusively) waits
    for it, so the resumed run reads everything its predecessor committed."""
    row = connection.execute(
        select(run_leases.c.host, run_leases.c.pid)
        .where(run_leases.c.business_date == business_date)
        .with_for_update(read=True)
    ).one_or_none()
    if row is None or (row.host, row.pid) != (me.host, me.pid):
        raise LeaseLost(f"lost the lease on {business_date}: another process took the run over")


def _create(connection: Connection, day: date, kind: str, parent: int | None, **run: object) -> int:
    result = connection.execute(
        insert(verification_runs).values(
            business_date=day, kind=kind, parent_run_id=parent, status=RunStatus.RUNNING, **run
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def open_run(
    engine: Engine,
    *,
    business_date: date,
    mode: Mode,
    customers_file: str | None,
    me: Owner,
    clock: Callable[[], datetime],
    stale_after: float,
) -> OpenedRun | AlreadyCompleted:
    """Take the date's lease, then resume its unfinished run or start the run `mode` asks for."""
    with engine.begin() as connection:
        now = _claim(connection, business_date, me, clock, stale_after)
        latest = latest_run(connection, business_date)
        lease = {"lease_host": me.host, "lease_pid": me.pid, "heartbeat_at": now}
        opened = _choose(connection, latest, business_date, mode, customers_file, lease, now)
        run_id = opened.run_id
        if isinstance(opened, AlreadyCompleted):
            _release(connection, business_date, me)
        else:
            if opened.resumed:
                # An earlier session of this run died without sealing its chain segments
                # (SIGKILL, power loss): seal what it wrote before this session adds to it.
                audit.seal_run(connection, run_id, by="resume", now=now)
            connection.execute(
                update(run_leases)
                .where(run_leases.c.business_date == business_date)
                .values(run_id=run_id)
            )
        return opened


def _choose(
    connection: Connection,
    latest: Row[Any] | None,
    day: date,
    mode: Mode,
    customers_file: str | None,
    lease: dict[str, object],
    now: datetime,
) -> OpenedRun | AlreadyCompleted:
    if latest is not None and latest.status != RunStatus.COMPLETED:
        run_id = latest.id
        connection.execute(
            update(verification_runs)
            .where(verification_runs.c.id == run_id)
            .values(status=RunStatus.RUNNING, finished_at=None, reason=None, **lease)
        )
        return OpenedRun(run_id, latest.kind, True, latest.parent_run_id)
    if mode == "normal" and latest is not None:
        return AlreadyCompleted(latest.id)
    if mode == "retry_unavailable" and latest is None:
        raise RunRefused(f"there is no run for {day} to retry")
    parent = latest.id if (mode == "retry_unavailable" and latest is not None) else None
    kind = _KIND[mode]
    run_id = _create(
        connection, day, kind, parent, started_at=now, customers_file=customers_file, **lease
    )
    return OpenedRun(run_id, kind, False, parent)


def heartbeat(
    engine: Engine, *, business_date: date, run_id: int, me: Owner, now: datetime
) -> None:
    """Renew the lease; raises `LeaseLost` when another process has taken it over."""
    with engine.begin() as connection:
        renewed = connection.execute(
            update(run_leases)
            .where(run_leases.c.business_date == business_date)
            .where(run_leases.c.host == me.host, run_leases.c.pid == me.pid)
            .values(heartbeat_at=now)
        )
        if renewed.rowcount != 1:
            raise LeaseLost(f"lost the lease on {business_date}: another process took the run over")
        connection.execute(
            update(verification_runs)
            .where(verification_runs.c.id == run_id)
            .values(heartbeat_at=now)
        )


def _release(connection: Connection, day: date, me: Owner) -> None:
    connection.execute(
        update(run_leases)
        .where(run_leases.c.business_date == day)
        .where(run_leases.c.host == me.host, run_leases.c.pid == me.pid)
        .values(pid=None, host=None)
    )


def close_run(
    engine: Engine,
    *,
    business_date: date,
    run_id: int,
    me: Owner,
    status: RunStatus,
    now: datetime,
    counts: dict[str, int],
    reason: str | None = None,
    segments: Sequence[audit.Segment] | None = None,
) -> None:
    """Record the run's end state and counts, seal the session's chain segments, and release
    the date's lease.

    `segments` are the session's own tails, as its writer committed them: sealing those (not
    whatever the tables hold) leaves any row slipped into a segment behind the writer's back
    outside the seal, where verify reports it. Without them, the run's unsealed segments are
    sealed as the database has them."""
    reason = reason and limits.clip(reason, limits.REASON)
    with engine.begin() as connection:
        fence(connection, business_date=business_date, me=me)
        connection.execute(
            update(verification_runs)
            .where(verification_runs.c.id == run_id)
            .values(status=status, finished_at=now, reason=reason, lease_pid=None, **counts)
        )
        if segments is None:
            audit.seal_run(connection, run_id, by="run", now=now)
        else:
            for segment in segments:
                audit.seal(connection, segment, by="run", now=now)
        _release(connection, business_date, me)
