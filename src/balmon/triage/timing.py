"""How long problems stay open: cases by severity, and how long until a case was acknowledged
or resolved (`/metrics` histograms, issue 24)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, case, func, select

from balmon.errors import CODES, ErrorCode, Severity
from balmon.storage.schema import cases
from balmon.storage.statements import seconds_between

C = cases.c
# From a minute to a week: an acknowledgement within the hour, a resolution within the day.
BUCKETS = (60.0, 300.0, 900.0, 3600.0, 4 * 3600.0, 8 * 3600.0, 86400.0, 3 * 86400.0, 7 * 86400.0)


@dataclass(frozen=True, slots=True)
class Histogram:
    """Cumulative counts per upper bound, the total count and the sum of the values."""

    buckets: list[tuple[float, int]]
    count: int
    total: float


def open_by_severity(connection: Connection, since: datetime | None = None) -> dict[str, int]:
    """Open cases by their code's severity, every severity listed; with `since`, only those
    whose first failed attempt is older."""
    code = func.coalesce(C.final_code, C.last_code)
    found = {severity.value: 0 for severity in Severity}
    where = [C.open_attempts > 0] + ([C.first_seen < since] if since is not None else [])
    query = select(code, func.count()).where(*where).group_by(code)
    for name, n in connection.execute(query):
        found[CODES[ErrorCode(name)].severity.value] += int(n)
    return found


def _histogram(connection: Connection, end: Any, bounds: Sequence[float]) -> Histogram:
    seconds = seconds_between(C.first_seen, end, connection.dialect.name)
    columns = [func.sum(case((seconds <= bound, 1), else_=0)) for bound in bounds]
    row = connection.execute(
        select(*columns, func.count(), func.sum(seconds)).where(end.is_not(None))
    ).one()
    counts = [int(n or 0) for n in row[: len(bounds)]]
    return Histogram(list(zip(bounds, counts, strict=True)), int(row[-2]), float(row[-1] or 0))


def until_acknowledged(connection: Connection) -> Histogram:
    return _histogram(connection, C.acknowledged_at, BUCKETS)


def until_resolved(connection: Connection) -> Histogram:
    """Resolved cases only (`resolved_at` stays after a reopening; `open_attempts` is 0)."""
    return _histogram(connection, case((C.open_attempts == 0, C.resolved_at)), BUCKETS)
