"""The morning digest: once a day from `digest.at` (in the schedule's time zone), the open
cases by severity and owner, the oldest first, to `digest.urls` (issue 24). The `digests`
primary key is the claim: however many instances evaluate, one digest a day."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from balmon.alerts import outbox
from balmon.alerts.channels import Channel, parse_channels
from balmon.alerts.content import render_digest
from balmon.alerts.escalation import as_listed
from balmon.config.settings import DigestSettings
from balmon.errors import CODES, ErrorCode, Severity
from balmon.storage.schema import cases, digests

C = cases.c
SHOWN = 50


def channels(settings: DigestSettings) -> list[Channel]:
    return parse_channels(settings.urls, "digest ")


def send_if_due(
    engine: Engine,
    settings: DigestSettings,
    *,
    timezone: str,
    now: datetime,
    by: str,
    dashboard_url: str | None,
) -> bool:
    """Queue today's digest if its time has come and nobody queued it; True when queued."""
    if not settings.enabled or settings.at is None:
        return False
    local = now.astimezone(ZoneInfo(timezone))
    if local.time() < settings.at:
        return False
    day = local.date()
    with engine.begin() as connection:
        try:
            with connection.begin_nested():
                connection.execute(insert(digests).values(day=day, sent_by=by, created_at=now))
        except IntegrityError:
            return False
        message_id = _queue(connection, settings, day, now, dashboard_url)
        connection.execute(
            update(digests).where(digests.c.day == day).values(message_id=message_id)
        )
    return True


def _queue(
    connection: Connection,
    settings: DigestSettings,
    day: date,
    now: datetime,
    dashboard_url: str | None,
) -> int:
    code = func.coalesce(C.final_code, C.last_code)
    open_ = C.open_attempts > 0
    by_severity = {severity.value: 0 for severity in reversed(Severity)}
    for name, n in connection.execute(select(code, func.count()).where(open_).group_by(code)):
        by_severity[CODES[ErrorCode(name)].severity.value] += int(n)
    by_owner = {
        str(owner or "nobody"): int(n)
        for owner, n in connection.execute(
            select(C.owner, func.count()).where(open_).group_by(C.owner).order_by(C.owner)
        )
    }
    rows = connection.execute(
        select(cases).where(open_).order_by(C.first_seen, C.id).limit(SHOWN)
    ).all()
    oldest = [as_listed(row, now) for row in rows]
    rendered = render_digest(
        day=day,
        by_severity=by_severity,
        by_owner=by_owner,
        oldest=oldest,
        total=sum(by_severity.values()),
        dashboard_url=dashboard_url,
    )
    return outbox.add_message(
        connection,
        rendered,
        kind="digest",
        now=now,
        count=sum(by_severity.values()),
        channels=channels(settings),
    )
