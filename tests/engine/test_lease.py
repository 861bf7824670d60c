"""One process per business date: a live owner refuses others; a dead or silent one is replaced."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from balmon.engine.lease import AlreadyCompleted, OpenedRun, Owner, close_run, heartbeat, open_run
from balmon.errors import RunRefused, StorageError
from balmon.storage.schema import verification_runs
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
        now=now,  # type: ignore[arg-type]
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
