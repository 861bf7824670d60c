"""How long problems stay open: cases by severity, and how long until a case was acknowledged
or resolved (`/metrics` histograms, issue 24)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
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


@dataclass(frozen=True, slots=True)
class Durations:
    """Median and 90th percentile, in hours, over the cases of a period (None: no case)."""

    count: int
    median_hours: float | None
    p90_hours: float | None


def _summary(seconds: list[float]) -> Durations:
    if not seconds:
        return Durations(0, None, None)
    ordered = sorted(seconds)
    # Nearest rank: the value below which 90% of the cases lie, one of them, never invented.
    p90 = ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]
    return Durations(len(ordered), statistics.median(ordered) / 3600, p90 / 3600)


def open_times(connection: Connection, start: date, end: date) -> dict[str, Durations]:
    """Time to acknowledge and time to resolve, from the first failed attempt, over the
    cases of business dates `start`..`end`."""
    query = select(C.first_seen, C.acknowledged_at, C.resolved_at, C.open_attempts).where(
        C.business_date >= start, C.business_date <= end
    )
    acked: list[float] = []
    resolved: list[float] = []
    for first, ack, done, still_open in connection.execute(query):
        if ack is not None:
            acked.append((ack - first).total_seconds())
        if done is not None and not still_open:
            resolved.append((done - first).total_seconds())
    return {"acknowledge": _summary(acked), "resolve": _summary(resolved)}
