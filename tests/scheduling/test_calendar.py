"""The schedule's decisions, with the clock as an argument: lag, business days, catch-up, DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

import pytest

from balmon.config.settings import ScheduleSettings
from balmon.scheduling.calendar import Schedule


def schedule(**values: Any) -> Schedule:
    return Schedule(ScheduleSettings(**values))


def test_a_firing_verifies_the_date_lag_days_before_it_in_the_schedules_zone() -> None:
    tokyo = schedule(cron="0 6 * * *", timezone="Asia/Tokyo", date_lag_days=1)
    # 22:00 UTC on the 27th is 07:00 on the 28th in Tokyo: the 06:00 firing has passed.
    now = datetime(2026, 11, 27, 22, 0, tzinfo=UTC)
    firing = tokyo.last_firing(now)
    assert firing == datetime(2026, 11, 27, 21, 0, tzinfo=UTC)
    assert tokyo.business_date_of(firing) == date(2026, 11, 27)
    assert schedule(date_lag_days=0).business_date_of(firing) == date(2026, 11, 27)


def test_business_days_only_skips_weekends_and_holidays() -> None:
    s = schedule(business_days_only=True, holidays=["2026-12-25"], date_lag_days=1)
    saturday_firing = datetime(2026, 11, 28, 6, tzinfo=UTC)  # verifies Friday the 27th
    monday_firing = datetime(2026, 11, 30, 6, tzinfo=UTC)  # verifies Sunday: nothing
    assert s.business_date_of(saturday_firing) == date(2026, 11, 27)
    assert s.business_date_of(monday_firing) is None
    assert s.business_date_of(datetime(2026, 12, 26, 6, tzinfo=UTC)) is None
    assert schedule().business_date_of(monday_firing) == date(2026, 11, 29)


def test_catch_up_lists_due_business_dates_oldest_first() -> None:
    s = schedule(business_days_only=True, catch_up_days=3, holidays=["2026-11-26"])
    # Monday 30 Nov, 07:00: the newest firing (06:00) verifies Sunday, not a business date;
    # the window goes back three more days, less the weekend and the holiday on Thursday.
    now = datetime(2026, 11, 30, 7, tzinfo=UTC)
    assert s.due_dates(now) == [date(2026, 11, 27)]
    every_day = schedule(catch_up_days=2)
    assert every_day.due_dates(now) == [date(2026, 11, 27), date(2026, 11, 28), date(2026, 11, 29)]


def test_before_todays_firing_the_newest_due_date_is_the_previous_firings() -> None:
    s = schedule(catch_up_days=0)
    assert s.due_dates(datetime(2026, 11, 30, 5, 59, tzinfo=UTC)) == [date(2026, 11, 28)]
    assert s.due_dates(datetime(2026, 11, 30, 6, 0, tzinfo=UTC)) == [date(2026, 11, 29)]


def test_next_business_date_skips_firings_for_non_business_dates() -> None:
    s = schedule(business_days_only=True)
    firing, day = s.next_business_date(datetime(2026, 11, 28, 7, tzinfo=UTC))
    # Sunday's and Monday's firings verify Saturday and Sunday; Tuesday's verifies Monday.
    assert (firing, day) == (datetime(2026, 12, 1, 6, tzinfo=UTC), date(2026, 11, 30))


@pytest.mark.parametrize("cron", ["* * * * * */15", "*/5 * * * *"])
def test_a_schedule_firing_every_few_seconds_still_finds_the_next_business_date(cron: str) -> None:
    """15-second firings on a Monday (each verifying Sunday): 5,760 firings a day, past any
    search by firing (the scheduler's heartbeat failed every pass and was never recorded)."""
    s = schedule(cron=cron, business_days_only=True, holidays=["2026-12-01"])
    monday = datetime(2026, 11, 30, 0, 0, 7, tzinfo=UTC)
    firing, day = s.next_business_date(monday)
    # Every firing on Monday verifies Sunday; Tuesday's first verifies Monday 30, a business
    # day (the holiday, Tuesday 1 December, is only verified on Wednesday).
    assert day == date(2026, 11, 30)
    assert firing == datetime(2026, 12, 1, 0, 0, 0, tzinfo=UTC)


def test_a_schedule_that_never_verifies_a_business_date_names_the_section() -> None:
    from balmon.errors import ConfigError

    s = schedule(cron="0 6 * * 1", business_days_only=True)  # Mondays verify Sundays
    with pytest.raises(ConfigError, match="schedule: the schedule fires on no business date"):
        s.next_business_date(datetime(2026, 11, 30, tzinfo=UTC))


def test_deadline_is_on_the_day_the_date_was_due_in_the_schedules_zone() -> None:
    s = schedule(timezone="America/New_York", deadline="08:30")
    assert s.settings.deadline == time(8, 30)
    deadline = s.deadline_of(date(2026, 11, 27))
    assert deadline == datetime(2026, 11, 28, 13, 30, tzinfo=UTC)
    assert not s.overdue(date(2026, 11, 27), datetime(2026, 11, 28, 13, 29, tzinfo=UTC))
    assert s.overdue(date(2026, 11, 27), datetime(2026, 11, 28, 13, 30, tzinfo=UTC))
    assert schedule().deadline_of(date(2026, 11, 27)) is None


def test_daylight_saving_change_keeps_the_local_firing_time() -> None:
    berlin = schedule(cron="0 6 * * *", timezone="Europe/Berlin")
    before = berlin.next_firing(datetime(2026, 3, 28, 12, tzinfo=UTC))
    after = berlin.next_firing(before)
    assert before == datetime(2026, 3, 29, 4, tzinfo=UTC)  # 06:00 CEST, the first summer day
    assert after == datetime(2026, 3, 30, 4, tzinfo=UTC)
    assert berlin.next_firing(datetime(2026, 3, 27, 12, tzinfo=UTC)) == datetime(
        2026, 3, 28, 5, tzinfo=UTC
    )
    # A firing in the hour that does not exist moves to the first valid time, once.
    skipped = schedule(cron="30 2 * * *", timezone="Europe/Berlin")
    firing = skipped.next_firing(datetime(2026, 3, 28, 12, tzinfo=UTC))
    assert firing == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    assert skipped.business_date_of(firing) == date(2026, 3, 28)


def test_six_field_cron_fires_on_seconds() -> None:
    every_two = schedule(cron="* * * * * */2")
    start = datetime(2026, 11, 28, 6, 0, 1, tzinfo=UTC)
    assert every_two.next_firing(start) == datetime(2026, 11, 28, 6, 0, 2, tzinfo=UTC)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("cron", "0 6 * *", "not a valid cron expression"),
        ("deadline", "25:00", "expected HH:MM"),
        ("holidays", ["2026-13-01"], "date"),
        ("catch_up_days", -1, "greater than or equal to 0"),
    ],
)
def test_bad_schedule_values_are_refused(key: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ScheduleSettings(**{key: value})
