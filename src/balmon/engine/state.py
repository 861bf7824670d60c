"""What state a business date is in: its latest run, and whether that run is done."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Engine, Row, func, select

from balmon.storage.migrate import current_revision, ensure_schema
from balmon.storage.schema import verification_runs
from balmon.storage.states import RunStatus


class DateState(StrEnum):
    COMPLETED = "completed"
    RUNNING = "running"
    STALLED = "stalled"  # "running", but its owner stopped renewing the lease
    INTERRUPTED = "interrupted"
    FAILED = "failed"
    MISSING = "missing"


@dataclass(frozen=True, slots=True)
class DateStatus:
    business_date: date
    state: DateState
    run_id: int | None = None
    reason: str | None = None
    finished_at: datetime | None = None
    total: int = 0
    owner: str | None = None

    def describe(self) -> str:
        """One line for an operator or a job monitor."""
        day, run = self.business_date, f"run {self.run_id}"
        if self.state is DateState.COMPLETED:
            when = self.finished_at.strftime("%Y-%m-%d %H:%M:%SZ") if self.finished_at else "?"
            return f"{day}: completed ({run}, {self.total:,} customers, finished {when})"
        if self.state is DateState.MISSING:
            return f"{day}: no run yet"
        if self.state is DateState.RUNNING:
            return f"{day}: still running ({run} on {self.owner})"
        if self.state is DateState.STALLED:
            return f"{day}: stalled ({run} on {self.owner} stopped renewing its lease)"
        if self.state is DateState.INTERRUPTED:
            return f"{day}: interrupted ({run}); `balmon run --date {day}` resumes it"
        return f"{day}: failed ({run}): {self.reason or 'no reason recorded'}"


def latest_run(connection: Connection, day: date) -> Row[Any] | None:
    """The newest run of the business date, whatever its state."""
    query = (
        select(verification_runs)
        .where(verification_runs.c.business_date == day)
        .order_by(verification_runs.c.id.desc())
        .limit(1)
    )
    return connection.execute(query).first()


def date_status(
    connection: Connection, day: date, *, now: datetime, stale_after: float
) -> DateStatus:
    """The state of `day`, judged by its newest run."""
    row = latest_run(connection, day)
    if row is None:
        return DateStatus(day, DateState.MISSING)
    state = DateState(row.status)
    if state is DateState.RUNNING:
        beat = row.heartbeat_at or row.started_at
        if (now - beat).total_seconds() >= stale_after:
            state = DateState.STALLED
    owner = f"host {row.lease_host} pid {row.lease_pid}" if row.lease_host else None
    return DateStatus(day, state, row.id, row.reason, row.finished_at, row.total, owner)


def completed_dates(connection: Connection, days: list[date]) -> set[date]:
    """Which of `days` have a completed newest run."""
    if not days:
        return set()
    r = verification_runs.c
    rows = connection.execute(
        select(r.business_date, r.status, r.id).where(r.business_date.in_(days)).order_by(r.id)
    ).all()
    newest = {row.business_date: row.status for row in rows}
    return {day for day, status in newest.items() if status == RunStatus.COMPLETED}


def completed_in(engine: Engine, days: list[date]) -> set[date]:
    """Which of `days` have a completed newest run; none for a database balmon never set up."""
    if current_revision(engine) is None:
        return set()
    ensure_schema(engine)
    with engine.connect() as connection:
        return completed_dates(connection, days)


def has_completed(engine: Engine, day: date) -> bool:
    """Whether `day`'s newest run completed; False for a database balmon never set up."""
    return day in completed_in(engine, [day])


def runs_by_status(connection: Connection) -> dict[str, int]:
    """How many runs are in each state, over all dates."""
    r = verification_runs.c
    rows = connection.execute(select(r.status, func.count()).group_by(r.status))
    return {str(status): int(n) for status, n in rows}


def retries_total(connection: Connection) -> int:
    """Retries made by every run (as each run counted them when it closed)."""
    query = select(func.coalesce(func.sum(verification_runs.c.retry_count), 0))
    return int(connection.scalar(query) or 0)


def last_completed(connection: Connection) -> Any:
    """The run that completed most recently (its start and finish), or None."""
    r = verification_runs.c
    query = (
        select(r.started_at, r.finished_at)
        .where(r.status == RunStatus.COMPLETED)
        .order_by(r.finished_at.desc())
        .limit(1)
    )
    return connection.execute(query).first()
