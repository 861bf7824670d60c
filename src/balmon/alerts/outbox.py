"""The durable outbox: alerts grouped into messages, one delivery row per message and channel.

Every query on `alerts`, `alert_messages` and `alert_deliveries` lives here.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, case, func, insert, select, update

from balmon import limits
from balmon.alerts.channels import Channel, route
from balmon.alerts.content import AlertedCustomer, Rendered, render_group
from balmon.config.settings import AlertSettings
from balmon.errors import ErrorCode, GroupTaken, info
from balmon.storage.schema import alert_deliveries, alert_messages, alerts, verification_runs
from balmon.storage.states import DeliveryStatus, RunStatus
from balmon.triage import regressions_among, silences


@dataclass(frozen=True, slots=True)
class GroupKey:
    run_id: int | None  # None for a message about a date rather than a run (an alarm)
    business_date: date
    error_code: str | None  # None for a run's summary message


def _waiting() -> tuple[Any, Any]:
    """Alerts neither sent in a message nor held back by a silence."""
    return alerts.c.message_id.is_(None), alerts.c.silence_id.is_(None)


def hold_silenced(connection: Connection, now: datetime) -> int:
    """Hold back waiting alerts a silence in force covers: recorded with it, never sent."""
    a = alerts.c
    covered = select(func.min(silences.S.id)).where(
        silences.active_at(now), silences.covering(a.customer_id, a.error_code)
    )
    # Not `covered.exists()`: an aggregate over no silence is still one row (NULL).
    silence = covered.scalar_subquery()
    result = connection.execute(
        update(alerts).where(*_waiting(), silence.is_not(None)).values(silence_id=silence)
    )
    return int(result.rowcount or 0)


# Alerts a day rule may fold into its alarm (STALE_FEED takes a stale feed's STALE_BALANCE
# alerts): held while their run is running, since only its end decides.
HELD_WHILE_RUNNING = (ErrorCode.STALE_BALANCE.value,)


def _held() -> Any:
    a, v = alerts.c, verification_runs.c
    running = select(v.id).where(v.id == a.run_id, v.status == RunStatus.RUNNING).exists()
    return and_(a.error_code.in_(HELD_WHILE_RUNNING), running)


def ready_groups(
    connection: Connection, *, older_than: datetime | None, run_id: int | None = None
) -> list[GroupKey]:
    """Groups of ungrouped alerts whose first alert is at least as old as `older_than`."""
    a = alerts.c
    query = (
        select(a.run_id, a.business_date, a.error_code, func.min(a.created_at))
        .where(*_waiting(), ~_held())
        .group_by(a.run_id, a.business_date, a.error_code)
    )
    if run_id is not None:
        query = query.where(a.run_id == run_id)
    rows = connection.execute(query).all()
    return [GroupKey(r[0], r[1], r[2]) for r in rows if older_than is None or r[3] <= older_than]


def _members(key: GroupKey, now: datetime) -> Any:
    a = alerts.c
    # Silences are checked again here: an alert written after `hold_silenced` ran (by another
    # process) must not slip into a message.
    covered = select(silences.S.id).where(
        silences.active_at(now), silences.covering(a.customer_id, a.error_code)
    )
    return (
        a.run_id == key.run_id,
        a.business_date == key.business_date,
        a.error_code == key.error_code,
        *_waiting(),
        ~covered.exists(),
    )


def group(
    connection: Connection,
    key: GroupKey,
    *,
    settings: AlertSettings,
    channels: list[Channel],
    now: datetime,
    regression_days: int = 30,
) -> int:
    """Turn one group into a message with pending deliveries; returns the message id."""
    where = _members(key, now)
    total, last_id = connection.execute(
        select(func.count(), func.max(alerts.c.id)).where(*where)
    ).one()
    if not total:  # another process grouped (and sent) all of them since the key was read
        raise GroupTaken(str(key))
    listed = connection.execute(
        select(alerts)
        .where(*where)
        .order_by(alerts.c.failed_at, alerts.c.id)
        .limit(settings.max_customers_per_message)
    ).all()
    notes = regressions_among(
        connection, key.business_date, [r.customer_id for r in listed], days=regression_days
    )
    customers = [
        AlertedCustomer(
            r.customer_id, r.error_code, r.failed_at, r.attempts, notes.get(r.customer_id)
        )
        for r in listed
    ]
    code = str(key.error_code)
    assert key.run_id is not None  # customer alerts always belong to a run
    rendered = render_group(
        business_date=key.business_date,
        run_id=key.run_id,
        code=code,
        customers=customers,
        total=total,
        dashboard_url=settings.dashboard_url,
    )
    severity = info(code).severity.value
    message_id = add_message(
        connection,
        rendered,
        kind="group",
        now=now,
        count=total,
        key=key,
        severity=severity,
        channels=route(channels, severity, settings.routes),
    )
    claimed = connection.execute(
        update(alerts).where(*where, alerts.c.id <= last_id).values(message_id=message_id)
    )
    if claimed.rowcount != total:
        raise GroupTaken(str(key))
    return message_id


def add_message(
    connection: Connection,
    rendered: Rendered,
    *,
    kind: str,
    now: datetime,
    count: int,
    channels: list[Channel],
    key: GroupKey | None = None,
    severity: str | None = None,
) -> int:
    """Store a message and one pending delivery per channel."""
    result = connection.execute(
        insert(alert_messages).values(
            kind=kind,
            business_date=key.business_date if key else None,
            run_id=key.run_id if key else None,
            error_code=key.error_code if key else None,
            severity=severity,
            customers_count=count,
            title=limits.clip(rendered.title, limits.TITLE),
            body=rendered.body,
            short_body=rendered.short_body,
            created_at=now,
        )
    )
    key_row = result.inserted_primary_key
    assert key_row is not None
    message_id = int(key_row[0])
    if channels:
        connection.execute(
            insert(alert_deliveries),
            [
                {
                    "message_id": message_id,
                    "channel": c.name,
                    "status": DeliveryStatus.PENDING,
                    "attempts": 0,
                    "created_at": now,
                    "updated_at": now,
                }
                for c in channels
            ],
        )
    return message_id


# How long a claimed delivery is left to the flusher that claimed it: well past the longest
# a send may take (`SEND_SECONDS`), so no other flusher sends it while the first still might.
# A flusher that died mid-send is passed over at once by a flusher on its host (its pid is
# gone); elsewhere its lease runs out, and the delivery goes again then.
SEND_SECONDS = 120.0
CLAIM = timedelta(seconds=5 * SEND_SECONDS)


def claimer() -> str:
    """This process, as a claim names it."""
    return f"{socket.gethostname()}:{os.getpid()}"[:255]


def _gone(claimed_by: str | None) -> bool:
    """Whether the claim's process is known to be dead: on this host, with its pid gone."""
    host, _, pid = (claimed_by or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _unclaimed(now: datetime) -> Any:
    d = alert_deliveries.c
    return (d.claimed_until.is_(None)) | (d.claimed_until <= now)


def pending(
    connection: Connection, now: datetime, message_ids: list[int] | None = None
) -> list[Any]:
    """Pending deliveries no live flusher is sending, with the text to send."""
    d, m = alert_deliveries.c, alert_messages.c
    query = (
        select(
            d.id,
            d.channel,
            d.attempts,
            d.claimed_until,
            d.claimed_by,
            m.title,
            m.body,
            m.short_body,
        )
        .join(alert_messages, m.id == d.message_id)
        .where(d.status == DeliveryStatus.PENDING)
        .order_by(d.id)
    )
    if message_ids is not None:
        query = query.where(d.message_id.in_(message_ids))
    return [
        row
        for row in connection.execute(query)
        if row.claimed_until is None or row.claimed_until <= now or _gone(row.claimed_by)
    ]


def claim(connection: Connection, row: Any, now: datetime) -> bool:
    """Lease the delivery (a row `pending` listed) to this flusher and count one more attempt,
    unless another process claimed it first (it is leased, sent, or its attempt count moved
    on). A lease whose flusher `pending` found dead is taken over."""
    d = alert_deliveries.c
    free = _unclaimed(now)
    if row.claimed_by is not None:
        free = free | (d.claimed_by == row.claimed_by)
    result = connection.execute(
        update(alert_deliveries)
        .where(
            d.id == row.id,
            d.status == DeliveryStatus.PENDING,
            d.attempts == row.attempts,
            free,
        )
        .values(
            attempts=row.attempts + 1,
            updated_at=now,
            claimed_until=now + CLAIM,
            claimed_by=claimer(),
        )
    )
    return bool(result.rowcount == 1)


def settle(
    connection: Connection,
    delivery_id: int,
    *,
    status: DeliveryStatus,
    error: str | None,
    now: datetime,
) -> None:
    """Record an attempt's outcome and end its lease (`pending` keeps it for the next
    flush)."""
    values: dict[str, Any] = {
        "status": status,
        "last_error": error,
        "updated_at": now,
        "claimed_until": None,
        "claimed_by": None,
    }
    if status == DeliveryStatus.SENT:
        values["sent_at"] = now
    connection.execute(
        update(alert_deliveries).where(alert_deliveries.c.id == delivery_id).values(**values)
    )


SENDING = "sending"  # pending, and claimed by a flusher that is sending it now


def delivery_counts(
    connection: Connection, run_id: int | None = None, *, now: datetime | None = None
) -> dict[str, int]:
    """Deliveries by status (of one run's messages, or all); with `now`, the pending ones a
    flusher is sending at that moment are counted apart, as `SENDING` (in the same statement,
    so that a delivery sent meanwhile is never counted twice or not at all)."""
    d, m = alert_deliveries.c, alert_messages.c
    status: Any = d.status
    if now is not None:
        sending = (d.status == DeliveryStatus.PENDING) & ~_unclaimed(now)
        status = case((sending, SENDING), else_=d.status)
    query = select(status, func.count()).group_by(status)
    if run_id is not None:
        query = query.join(alert_messages, m.id == d.message_id).where(m.run_id == run_id)
    return {str(state): int(count) for state, count in connection.execute(query)}


def deliveries_of(connection: Connection, message_id: int) -> list[Any]:
    query = select(alert_deliveries).where(alert_deliveries.c.message_id == message_id)
    return list(connection.execute(query.order_by(alert_deliveries.c.id)).all())


def listing(connection: Connection, *, pending_only: bool, limit: int) -> list[Any]:
    """The newest messages, one row per message and channel with its delivery state."""
    m, d = alert_messages.c, alert_deliveries.c
    query = (
        select(
            m.id,
            m.created_at,
            m.kind,
            m.error_code,
            m.customers_count,
            d.channel,
            d.status,
            d.attempts,
            d.last_error,
        )
        .outerjoin(alert_deliveries, d.message_id == m.id)
        .order_by(m.id.desc(), d.id)
        .limit(limit)
    )
    if pending_only:
        query = query.where(d.status == DeliveryStatus.PENDING)
    return list(connection.execute(query).all())


def pending_on(connection: Connection, day: date) -> int:
    """Deliveries still pending for messages about business date `day`."""
    m, d = alert_messages.c, alert_deliveries.c
    query = (
        select(func.count())
        .select_from(alert_deliveries)
        .join(alert_messages, m.id == d.message_id)
        .where(d.status == DeliveryStatus.PENDING, m.business_date == day)
    )
    return int(connection.scalar(query) or 0)


def oldest_pending(connection: Connection) -> tuple[int, datetime | None]:
    """How many deliveries are pending, and when the oldest of them was created."""
    d = alert_deliveries.c
    query = select(func.count(), func.min(d.created_at)).where(d.status == DeliveryStatus.PENDING)
    count, oldest = connection.execute(query).one()
    return int(count), oldest


def messages(connection: Connection, *, limit: int, offset: int = 0) -> tuple[list[Any], int]:
    """The newest messages, for the Alerts page."""
    m = alert_messages.c
    total = connection.scalar(select(func.count()).select_from(alert_messages)) or 0
    rows = connection.execute(
        select(alert_messages).order_by(m.id.desc()).limit(limit).offset(offset)
    ).all()
    return list(rows), int(total)


def newer_messages(connection: Connection, message_id: int) -> int:
    """How many messages are newer than `message_id` (where it stands on the Alerts page)."""
    m = alert_messages.c
    return int(connection.scalar(select(func.count()).where(m.id > message_id)) or 0)


def deliveries_of_messages(connection: Connection, message_ids: list[int]) -> dict[int, list[Any]]:
    """Each message's deliveries, one per channel."""
    d = alert_deliveries.c
    found: dict[int, list[Any]] = {i: [] for i in message_ids}
    if message_ids:
        query = select(alert_deliveries).where(d.message_id.in_(message_ids)).order_by(d.id)
        for row in connection.execute(query):
            found[row.message_id].append(row)
    return found


def customers_of_messages(connection: Connection, message_ids: list[int]) -> dict[int, list[Any]]:
    """The customers each message is about (the alert rows it grouped)."""
    a = alerts.c
    found: dict[int, list[Any]] = {i: [] for i in message_ids}
    if message_ids:
        query = (
            select(a.message_id, a.customer_id, a.business_date, a.error_code)
            .where(a.message_id.in_(message_ids))
            .order_by(a.id)
        )
        for row in connection.execute(query):
            found[row.message_id].append(row)
    return found


def degraded(connection: Connection, now: datetime) -> dict[str, int]:
    """Alerting trouble worth a banner: deliveries that were tried and are still waiting, and
    deliveries given up in the last day."""
    d = alert_deliveries.c
    failing = select(func.count()).where(d.status == DeliveryStatus.PENDING, d.attempts > 0)
    given_up = select(func.count()).where(
        d.status == DeliveryStatus.FAILED, d.updated_at > now - timedelta(days=1)
    )
    return {
        "failing": int(connection.scalar(failing) or 0),
        "failed": int(connection.scalar(given_up) or 0),
    }


def alerts_of_case(connection: Connection, day: date, customer_id: str) -> list[dict[str, Any]]:
    """The alerts raised for one customer on one date, with each message's deliveries."""
    a = alerts.c
    rows = connection.execute(
        select(alerts).where(a.business_date == day, a.customer_id == customer_id).order_by(a.id)
    ).all()
    sent = deliveries_of_messages(connection, [r.message_id for r in rows if r.message_id])
    return [
        {
            "error_code": r.error_code,
            "created_at": r.created_at.isoformat(),
            "message_id": r.message_id,
            "silence_id": r.silence_id,
            "deliveries": [
                {"channel": d.channel, "status": d.status, "attempts": d.attempts}
                for d in sent.get(r.message_id, [])
            ],
        }
        for r in rows
    ]
