"""Resolving errors: only the resolution fields change; the database appends the history."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, update

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


def resolve(engine: Engine, error_id: int, *, notes: str, actor: str, now: datetime) -> bool:
    """Mark one error resolved with notes; False when there is no such error."""
    with engine.begin() as c:
        done = c.execute(
            update(error_logs)
            .where(error_logs.c.id == error_id)
            .values(_resolution(notes, actor, now))
        )
        audit.seal_resolutions(c, actor=actor, now=now)
    return bool(done.rowcount)


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
