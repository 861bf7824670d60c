"""Resolving errors: only the resolution fields change; the database appends the history."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Connection, Engine, func, select, update

from balmon import audit, limits
from balmon.dashboard.queries import ErrorFilter
from balmon.storage.schema import error_logs


def _resolution(notes: str, actor: str, now: datetime) -> dict[str, object]:
    return {
        "resolved": True,
        "resolution_notes": limits.clip(notes, limits.NOTES),
        "resolved_by": actor,
        "resolved_at": now,
    }


class Outcome(StrEnum):
    RESOLVED = "resolved"
    ALREADY = "resolved already"  # its recorded resolution stays; the new note is not taken
    MISSING = "no such error"


def resolve(engine: Engine, error_id: int, *, notes: str, actor: str, now: datetime) -> Outcome:
    """Mark one open error resolved with notes. A resolved record is not resolved again: the
    same rule as a case's, so two operators never overwrite each other's resolution."""
    with engine.begin() as c:
        done = c.execute(
            update(error_logs)
            .where(error_logs.c.id == error_id, error_logs.c.resolved.is_(False))
            .values(_resolution(notes, actor, now))
        )
        if done.rowcount:
            audit.seal_resolutions(c, actor=actor, now=now)
            return Outcome.RESOLVED
        found = c.scalar(select(error_logs.c.id).where(error_logs.c.id == error_id))
    return Outcome.ALREADY if found is not None else Outcome.MISSING


def open_count(c: Connection, f: ErrorFilter) -> int:
    """How many open errors a bulk resolve over `f` would resolve."""
    where = [*f.conditions(), error_logs.c.resolved.is_(False)]
    return int(c.scalar(select(func.count()).select_from(error_logs).where(*where)) or 0)


def resolve_matching(
    engine: Engine, f: ErrorFilter, *, notes: str, actor: str, now: datetime
) -> int:
    """Resolve every unresolved error matching the filter; returns how many."""
    with engine.begin() as c:
        done = c.execute(
            update(error_logs)
            .where(*f.conditions(), error_logs.c.resolved.is_(False))
            .values(_resolution(notes, actor, now))
        )
        audit.seal_resolutions(c, actor=actor, now=now)
    return int(done.rowcount)
