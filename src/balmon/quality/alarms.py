"""The day rules' alarms: once per (business date, rule), through the durable outbox.

The claim is the `quality_alarms` primary key, as `run_alarms` is for a missed date, so a
date completed again (a re-check, a crash after completion) never alarms twice. A STALE_FEED
alarm takes the date's waiting STALE_BALANCE alerts into its own message: one stale feed is
one alarm, not a message per group of customers.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from balmon.alerts import outbox
from balmon.alerts.channels import parse_channels, route
from balmon.alerts.content import render_quality_alarm
from balmon.config.settings import AlertSettings
from balmon.errors import ErrorCode, info
from balmon.rules import Finding
from balmon.storage.schema import alerts, quality_alarms

Q = quality_alarms.c
# The per-customer code each day rule speaks for: its alerts of the date fold into the alarm.
FOLDS = {ErrorCode.STALE_FEED: ErrorCode.STALE_BALANCE}


def raise_alarm(
    connection: Connection,
    finding: Finding,
    *,
    business_date: date,
    run_id: int,
    settings: AlertSettings,
    raised_by: str,
    now: datetime,
) -> bool:
    """Record the alarm and queue its message; False when the date had it already."""
    try:
        with connection.begin_nested():
            connection.execute(
                insert(quality_alarms).values(
                    business_date=business_date,
                    code=finding.code.value,
                    detail=finding.detail,
                    run_id=run_id,
                    raised_by=raised_by,
                    raised_at=now,
                )
            )
    except IntegrityError:
        return False
    folded = _waiting_count(connection, business_date, FOLDS.get(finding.code))
    message_id = _queue(connection, finding, business_date, folded, settings, now)
    if folded:
        _fold(connection, business_date, FOLDS[finding.code], message_id)
    connection.execute(
        update(quality_alarms)
        .where(Q.business_date == business_date, Q.code == finding.code.value)
        .values(message_id=message_id, folded=folded)
    )
    return True


def _unsent(business_date: date, code: ErrorCode) -> tuple[Any, ...]:
    a = alerts.c
    return (
        a.business_date == business_date,
        a.error_code == code.value,
        a.message_id.is_(None),
        a.silence_id.is_(None),
    )


def _waiting_count(connection: Connection, business_date: date, code: ErrorCode | None) -> int:
    if code is None:
        return 0
    query = select(func.count()).where(*_unsent(business_date, code))
    return int(connection.scalar(query) or 0)


def _fold(connection: Connection, business_date: date, code: ErrorCode, message_id: int) -> None:
    connection.execute(
        update(alerts).where(*_unsent(business_date, code)).values(message_id=message_id)
    )


def _queue(
    connection: Connection,
    finding: Finding,
    business_date: date,
    folded: int,
    settings: AlertSettings,
    now: datetime,
) -> int:
    severity = info(finding.code).severity.value
    rendered = render_quality_alarm(
        business_date=business_date,
        code=finding.code.value,
        detail=finding.detail,
        folded=folded,
        dashboard_url=settings.dashboard_url,
    )
    return outbox.add_message(
        connection,
        rendered,
        kind="alarm",
        now=now,
        count=folded,
        channels=route(parse_channels(settings.urls), severity, settings.routes),
        key=outbox.GroupKey(None, business_date, finding.code.value),
        severity=severity,
    )


def recent(connection: Connection, *, limit: int = 20) -> list[Any]:
    """The latest alarms, newest date first."""
    query = select(quality_alarms).order_by(Q.business_date.desc(), Q.code).limit(limit)
    return list(connection.execute(query).all())


def totals(connection: Connection) -> dict[str, int]:
    """Alarms raised so far, by rule."""
    query = select(Q.code, func.count()).group_by(Q.code)
    return {str(code): int(n) for code, n in connection.execute(query)}
