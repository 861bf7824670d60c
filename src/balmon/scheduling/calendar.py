"""When the schedule fires and which business dates are due: pure functions of the clock.

A firing on local day F (in the schedule's time zone) verifies business date F - date_lag_days.
Business dates are every day, or with `business_days_only` Monday to Friday less the holidays.
A date is due once a firing for it (or for a later date) has passed; the scheduler looks back
`catch_up_days` business dates from the newest due one. A date's deadline is `deadline` (HH:MM,
local) on the day it was due, F = date + lag.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter

from balmon.config import Settings
from balmon.config.settings import ScheduleSettings
from balmon.errors import ConfigError

_WEEKEND = (5, 6)
_SEARCH_DAYS = 800  # two years of calendar days: ample for any calendar of holidays


@dataclass(frozen=True, slots=True)
class BusinessCalendar:
    """Which calendar dates are business dates."""

    business_days_only: bool = False
    holidays: frozenset[date] = frozenset()

    def is_business_day(self, day: date) -> bool:
        if not self.business_days_only:
            return True
        return day.weekday() not in _WEEKEND and day not in self.holidays


class Schedule:
    """The `[schedule]` settings turned into firing times, due dates and deadlines."""

    def __init__(self, settings: ScheduleSettings) -> None:
        self.settings = settings
        self.zone = ZoneInfo(settings.timezone)
        self.calendar = BusinessCalendar(settings.business_days_only, frozenset(settings.holidays))
        self._lag = timedelta(days=settings.date_lag_days)

    def next_firing(self, after: datetime) -> datetime:
        """The first firing strictly after `after`, as an aware UTC time."""
        found: datetime = croniter(self.settings.cron, after.astimezone(self.zone)).get_next(
            datetime
        )
        return found.astimezone(after.tzinfo)

    def last_firing(self, at: datetime) -> datetime:
        """The newest firing at or before `at`."""
        probe = at + timedelta(microseconds=1)
        found: datetime = croniter(self.settings.cron, probe.astimezone(self.zone)).get_prev(
            datetime
        )
        return found.astimezone(at.tzinfo)

    def business_date_of(self, firing: datetime) -> date | None:
        """The business date a firing verifies, or None when that date is not a business date."""
        day = firing.astimezone(self.zone).date() - self._lag
        return day if self.calendar.is_business_day(day) else None

    def due_dates(self, now: datetime) -> list[date]:
        """Business dates that should have a completed run by now, oldest first."""
        newest = self.last_firing(now).astimezone(self.zone).date() - self._lag
        window = [newest - timedelta(days=n) for n in range(self.settings.catch_up_days + 1)]
        return sorted(d for d in window if self.calendar.is_business_day(d))

    def next_business_date(self, now: datetime) -> tuple[datetime, date]:
        """The next firing that verifies a business date, and that date.

        Searched day by day, not firing by firing: a schedule that fires every 15 seconds has
        5,760 firings on a Sunday, and every one of them verifies the same date."""
        firing = self.next_firing(now)
        for _ in range(_SEARCH_DAYS):
            day = self.business_date_of(firing)
            if day is not None:
                return firing, day
            local = firing.astimezone(self.zone)
            midnight = datetime.combine(local.date() + timedelta(days=1), time(0), self.zone)
            firing = self.next_firing(midnight - timedelta(microseconds=1))
        raise ConfigError(
            "schedule", f"the schedule fires on no business date in {_SEARCH_DAYS} days"
        )

    def deadline_of(self, day: date) -> datetime | None:
        """When `day`'s run must have completed (aware UTC), or None without a deadline."""
        if self.settings.deadline is None:
            return None
        local = datetime.combine(day + self._lag, self.settings.deadline, tzinfo=self.zone)
        return local.astimezone(ZoneInfo("UTC"))

    def overdue(self, day: date, now: datetime) -> bool:
        """Whether `day`'s deadline has passed."""
        deadline = self.deadline_of(day)
        return deadline is not None and now >= deadline


def run_date_refusal(day: date, settings: Settings, now: datetime) -> str | None:
    """Why no run may verify `day`, or None when one may.

    A date after today (in the schedule's time zone) has no balances yet, and a run for it
    would become every page's latest date. A date older than retention keeps would be
    archived and deleted by the next retention pass, so it is refused too."""
    today = settings.schedule.today(now)
    if day > today:
        return (
            f"{day} is after today ({today} in {settings.schedule.timezone}): "
            "there are no balances for it yet"
        )
    oldest = today - timedelta(days=settings.retention.keep("verification_results"))
    if day < oldest:
        return f"{day} is older than retention keeps (retention.keep_days: from {oldest})"
    return None
