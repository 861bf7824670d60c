"""The errors-by-day chart as geometry (stacked bars, one colour per code), drawn as inline
SVG in the HTML and with the PDF library's rectangles in the PDF."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from balmon.errors.taxonomy import ErrorCode

# One colour per code, in the taxonomy's order (Tableau 10, then six of Tableau 20's).
PALETTE = (
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
    "#86bcb6", "#d4a6c8", "#8cd17d", "#b6992d", "#499894", "#d37295",
)  # fmt: skip
COLOURS = {code.value: PALETTE[i % len(PALETTE)] for i, code in enumerate(ErrorCode)}


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    colour: str
    day: date
    code: str
    count: int


@dataclass(frozen=True, slots=True)
class Chart:
    width: float
    height: float
    bars: list[Bar]
    days: list[date]
    top: int  # the value at the top of the axis
    codes: list[str]


def stacked(by_day: dict[date, dict[str, int]], width: float, height: float) -> Chart:
    """Bars for each day (left to right, oldest first), stacked by code from the bottom."""
    days = sorted(by_day)
    codes = sorted({code for counts in by_day.values() for code in counts})
    top = max((sum(c.values()) for c in by_day.values()), default=0)
    bars: list[Bar] = []
    if not days or top == 0:
        return Chart(width, height, bars, days, top, codes)
    slot = width / len(days)
    bar_width = max(slot * 0.7, 1.0)
    for i, day in enumerate(days):
        base = height
        for code in codes:
            count = by_day[day].get(code, 0)
            if not count:
                continue
            h = height * count / top
            base -= h
            x = i * slot + (slot - bar_width) / 2
            bars.append(Bar(x, base, bar_width, h, COLOURS.get(code, "#888888"), day, code, count))
    return Chart(width, height, bars, days, top, codes)
