"""The rules over a whole business date: STALE_FEED, FAIL_SPIKE and UNAVAILABLE_SPIKE.

Pure checks over a date's figures and those of the completed dates before it; the caller
(`balmon.quality`) reads the figures and raises one alarm per (date, rule) found.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from balmon.config.settings import QualitySettings
from balmon.errors import ErrorCode

# A spike is judged against the median of this many completed dates before the date...
HISTORY = 20
# ...and not at all with fewer than this many: three quiet days are no baseline.
MIN_HISTORY = 5


@dataclass(frozen=True, slots=True)
class DayFigures:
    """A business date's outcomes, each customer counted once (its latest result)."""

    business_date: date
    passed: int
    failed: int
    unavailable: int
    answered: int  # balances that arrived: PASS, FAIL, or refused by a rule
    stale: int  # of those, refused as STALE_BALANCE

    @property
    def total(self) -> int:
        return self.passed + self.failed + self.unavailable


@dataclass(frozen=True, slots=True)
class Finding:
    """One rule's alarm for the date, with what an operator reads first."""

    code: ErrorCode
    detail: str


def stale_feed(day: DayFigures, ratio: float) -> Finding | None:
    if not day.answered or day.stale < ratio * day.answered:
        return None
    share = day.stale / day.answered
    return Finding(
        ErrorCode.STALE_FEED,
        f"{day.stale:,} of {day.answered:,} balances ({share:.0%}) were stale: "
        "the bank served an old snapshot",
    )


def spike(
    code: ErrorCode,
    what: str,
    count: Callable[[DayFigures], int],
    day: DayFigures,
    earlier: Sequence[DayFigures],
    quality: QualitySettings,
) -> Finding | None:
    """`count(day)` far above its median over `earlier` (the dates before, newest first).

    Each earlier count is taken at the date's own size (its share of that date's customers,
    times this date's customers): with a steady customer list that is the count itself, and a
    list that grew tenfold overnight is not ten times the FAILs."""
    history = [
        count(figures) * day.total / figures.total for figures in earlier[:HISTORY] if figures.total
    ]
    if len(history) < MIN_HISTORY:
        return None
    median = statistics.median(history)
    today = count(day)
    if today < quality.fail_spike_factor * median or today < median + quality.fail_spike_min:
        return None
    return Finding(
        code,
        f"{today:,} {what} against a median of {median:,.0f} over the {len(history)} "
        "completed dates before",
    )


def check_day(
    day: DayFigures, earlier: Sequence[DayFigures], quality: QualitySettings
) -> list[Finding]:
    """Every day rule `quality` leaves on that finds something wrong with `day`."""
    found: list[Finding | None] = []
    if quality.on(ErrorCode.STALE_FEED):
        found.append(stale_feed(day, quality.stale_feed_ratio))
    if quality.on(ErrorCode.FAIL_SPIKE):
        fails = spike(ErrorCode.FAIL_SPIKE, "FAILs", _failed, day, earlier, quality)
        found.append(fails)
    if quality.on(ErrorCode.UNAVAILABLE_SPIKE):
        code = ErrorCode.UNAVAILABLE_SPIKE
        found.append(spike(code, "UNAVAILABLE", _unavailable, day, earlier, quality))
    return [finding for finding in found if finding is not None]


def _failed(figures: DayFigures) -> int:
    return figures.failed


def _unavailable(figures: DayFigures) -> int:
    return figures.unavailable
