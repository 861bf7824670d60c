"""Where the daily run is started from: the schedule, the scheduler loop, the missed-run alarm."""

from __future__ import annotations

from balmon.scheduling.calendar import BusinessCalendar, Schedule, run_date_refusal

__all__ = ["BusinessCalendar", "Schedule", "run_date_refusal"]
