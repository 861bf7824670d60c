"""The `scheduler_instances` table: each scheduler's heartbeat, last and next firing.

Written by the scheduler loop, read by the dashboard's Runs page and the metrics.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, update

from balmon.storage.schema import scheduler_instances

s = scheduler_instances.c


def register(engine: Engine, name: str, now: datetime) -> None:
    """Mark `name` started (a restart under the same name reuses its row)."""
    values = {"started_at": now, "heartbeat_at": now, "stopped_at": None}
    with engine.begin() as connection:
        found = connection.execute(
            update(scheduler_instances).where(s.name == name).values(**values)
        )
        if found.rowcount == 0:
            connection.execute(insert(scheduler_instances).values(name=name, **values))


def beat(
    engine: Engine,
    name: str,
    *,
    now: datetime,
    next_firing: datetime | None,
    next_business_date: date | None,
    fired: bool,
) -> None:
    """Record a pass of the loop: its time, when it fires next and for which date."""
    values: dict[str, object] = {
        "heartbeat_at": now,
        "next_firing_at": next_firing,
        "next_business_date": next_business_date,
    }
    if fired:
        values["last_fired_at"] = now
    with engine.begin() as connection:
        connection.execute(update(scheduler_instances).where(s.name == name).values(**values))


def mark_stopped(engine: Engine, name: str, now: datetime) -> None:
    with engine.begin() as connection:
        connection.execute(update(scheduler_instances).where(s.name == name).values(stopped_at=now))


def newest(connection: Connection, limit: int) -> list[Any]:
    """Scheduler rows, newest heartbeat first."""
    query = select(scheduler_instances).order_by(s.heartbeat_at.desc()).limit(limit)
    return list(connection.execute(query).all())


def latest_running(connection: Connection) -> tuple[datetime | None, datetime | None]:
    """The newest heartbeat and last firing of any scheduler not stopped."""
    query = select(func.max(s.heartbeat_at), func.max(s.last_fired_at)).where(
        s.stopped_at.is_(None)
    )
    heartbeat, fired = connection.execute(query).one()
    return heartbeat, fired
