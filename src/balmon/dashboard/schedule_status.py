"""Business dates the operations team must act on: alarmed, or overdue by this schedule."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Connection

from balmon.config.settings import ScheduleSettings
from balmon.engine.state import completed_dates
from balmon.scheduling import Schedule
from balmon.scheduling.alarms import open_alarms


@dataclass(frozen=True, slots=True)
class Problem:
    business_date: date
    reason: str  # "missed" or "failed"
    detail: str


def problem_dates(
    connection: Connection, settings: ScheduleSettings, now: datetime
) -> list[Problem]:
    """Open alarms, plus due dates past their deadline that no scheduler has alarmed yet."""
    found = {
        (row.business_date, row.reason): Problem(row.business_date, row.reason, row.detail)
        for row in open_alarms(connection)
    }
    schedule = Schedule(settings)
    due = schedule.due_dates(now)
    done = completed_dates(connection, due)
    for day in due:
        if day not in done and schedule.overdue(day, now) and (day, "missed") not in found:
            found[(day, "missed")] = Problem(
                day, "missed", "past its deadline with no completed run"
            )
    return sorted(found.values(), key=lambda p: (p.business_date, p.reason), reverse=True)
