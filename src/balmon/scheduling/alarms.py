"""The missed-run and failed-run alarm: CRITICAL, once per (business date, reason).

The claim is the `run_alarms` primary key, so any number of schedulers may notice the same
missing date and the operations team still hears of it once. The message goes through the
same outbox and channels as customer alerts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from balmon import limits
from balmon.alerts import outbox
from balmon.alerts.channels import parse_channels, route
from balmon.alerts.content import render_alarm
from balmon.config.settings import AlertSettings
from balmon.engine.state import completed_dates
from balmon.scheduling.calendar import Schedule
from balmon.storage.schema import run_alarms
from balmon.storage.states import AlarmReason


@dataclass(frozen=True, slots=True)
class Alarm:
    business_date: date
    reason: AlarmReason
    detail: str


def raise_alarm(
    engine: Engine, alarm: Alarm, *, settings: AlertSettings, raised_by: str, now: datetime
) -> bool:
    """Record the alarm and queue its message; False when it was raised before."""
    with engine.begin() as connection:
        try:
            with connection.begin_nested():
                connection.execute(
                    insert(run_alarms).values(
                        business_date=alarm.business_date,
                        reason=alarm.reason.value,
                        detail=limits.clip(alarm.detail, limits.ALARM_DETAIL),
                        raised_by=raised_by,
                        raised_at=now,
                    )
                )
        except IntegrityError:
            return False
        message_id = _queue_message(connection, alarm, settings=settings, now=now)
        connection.execute(
            update(run_alarms)
            .where(run_alarms.c.business_date == alarm.business_date)
            .where(run_alarms.c.reason == alarm.reason.value)
            .values(message_id=message_id)
        )
    return True


def _queue_message(
    connection: Connection, alarm: Alarm, *, settings: AlertSettings, now: datetime
) -> int:
    rendered = render_alarm(
        business_date=alarm.business_date,
        reason=alarm.reason.value,
        detail=alarm.detail,
        dashboard_url=settings.dashboard_url,
    )
    channels = route(parse_channels(settings.urls), "CRITICAL", settings.routes)
    return outbox.add_message(
        connection,
        rendered,
        kind="alarm",
        now=now,
        count=0,
        channels=channels,
        key=outbox.GroupKey(None, alarm.business_date, None),
        severity="CRITICAL",
    )


def open_alarms(connection: Connection, *, limit: int = 20) -> list[Any]:
    """Raised alarms whose date's newest run is still not completed, newest date first."""
    a = run_alarms.c
    recent = connection.execute(
        select(run_alarms).order_by(a.business_date.desc(), a.reason).limit(limit * 4)
    ).all()
    done = completed_dates(connection, sorted({row.business_date for row in recent}))
    return [row for row in recent if row.business_date not in done][:limit]


def overdue_dates(connection: Connection, schedule: Schedule, now: datetime) -> list[date]:
    """Due business dates past their deadline whose newest run is not completed."""
    due = schedule.due_dates(now)
    done = completed_dates(connection, due)
    return [day for day in due if day not in done and schedule.overdue(day, now)]


@dataclass(frozen=True, slots=True)
class Problem:
    business_date: date
    reason: str  # "missed" or "failed"
    detail: str


def problem_dates(connection: Connection, schedule: Schedule, now: datetime) -> list[Problem]:
    """Open alarms, plus overdue dates that no scheduler has alarmed yet (none may be running)."""
    found = {
        (row.business_date, row.reason): Problem(row.business_date, row.reason, row.detail)
        for row in open_alarms(connection)
    }
    for day in overdue_dates(connection, schedule, now):
        found.setdefault(
            (day, "missed"), Problem(day, "missed", "past its deadline with no completed run")
        )
    return sorted(found.values(), key=lambda p: (p.business_date, p.reason), reverse=True)
