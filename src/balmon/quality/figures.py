"""A business date's figures for the day rules: counted once when the date completes, kept
in `day_figures`, so a date is compared with the twenty before it in one small read."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, insert, select

from balmon.engine import results
from balmon.errors import ErrorCode
from balmon.rules import DayFigures
from balmon.rules.day import HISTORY
from balmon.storage.schema import day_figures, verification_runs
from balmon.storage.states import RunStatus

# UNAVAILABLE codes whose balance did arrive, and that a rule refused.
_REFUSED = (
    ErrorCode.NULL_BALANCE,
    ErrorCode.NEGATIVE_BALANCE,
    ErrorCode.STALE_BALANCE,
    ErrorCode.CURRENCY_MISMATCH,
)
F = day_figures.c


def count(connection: Connection, day: date) -> DayFigures:
    """The date's figures from its results (each customer's latest)."""
    outcomes = results.of_date(connection, day)
    by_code = outcomes.unavailable_by_code
    refused = sum(by_code.get(code.value, 0) for code in _REFUSED)
    return DayFigures(
        business_date=day,
        passed=outcomes.passed,
        failed=outcomes.failed,
        unavailable=outcomes.unavailable,
        answered=outcomes.passed + outcomes.failed + refused,
        stale=by_code.get(ErrorCode.STALE_BALANCE.value, 0),
    )


def keep(connection: Connection, figures: DayFigures, now: datetime) -> None:
    """Record (or replace, after a re-check) the date's figures."""
    connection.execute(delete(day_figures).where(F.business_date == figures.business_date))
    connection.execute(
        insert(day_figures).values(
            business_date=figures.business_date,
            passed=figures.passed,
            failed=figures.failed,
            unavailable=figures.unavailable,
            answered=figures.answered,
            stale=figures.stale,
            computed_at=now,
        )
    )


def earlier(connection: Connection, day: date, now: datetime) -> list[DayFigures]:
    """The figures of the last `HISTORY` completed dates before `day`, newest first; a date
    completed before figures were kept is counted once now, and kept."""
    v = verification_runs.c
    dates = list(
        connection.scalars(
            select(v.business_date)
            .where(v.business_date < day, v.status == RunStatus.COMPLETED)
            .group_by(v.business_date)
            .order_by(v.business_date.desc())
            .limit(HISTORY)
        )
    )
    kept = {
        row.business_date: _figures(row)
        for row in connection.execute(select(day_figures).where(F.business_date.in_(dates)))
    }
    found = []
    for each in dates:
        figures = kept.get(each)
        if figures is None:
            figures = count(connection, each)
            keep(connection, figures, now)
        found.append(figures)
    return found


def _figures(row: Row[Any]) -> DayFigures:
    return DayFigures(
        business_date=row.business_date,
        passed=row.passed,
        failed=row.failed,
        unavailable=row.unavailable,
        answered=row.answered,
        stale=row.stale,
    )
