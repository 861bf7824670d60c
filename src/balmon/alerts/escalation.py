"""Escalation: an open case nobody acknowledged goes to the escalation channel, again every
`escalation.repeat_seconds`, until someone acknowledges or resolves it (issue 24).

One evaluation sends one message per destination (the defaults, or the first matching
route), naming every case due. The claim is in the database: a case's `escalated_at` moves on
in the same transaction that queues the message, under a condition a second evaluator (another
instance) no longer meets, so each step is sent exactly once however many instances evaluate.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, func, or_, select, update

from balmon.alerts import outbox
from balmon.alerts.channels import Channel, parse_channels
from balmon.alerts.content import EscalatedCase, render_escalation
from balmon.config.settings import EscalationRoute, EscalationSettings
from balmon.errors import CODES, ErrorCode, Severity
from balmon.storage.schema import cases
from balmon.triage.cases import silenced_by

C = cases.c
ORDER = (Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL)
# Cases listed in one message; the total is always stated.
SHOWN = 50


def severity_of(code: str) -> Severity:
    return CODES[ErrorCode(code)].severity


def escalating_codes(min_severity: str) -> list[str]:
    """The codes at least `min_severity`."""
    floor = ORDER.index(Severity(min_severity))
    return [code.value for code, entry in CODES.items() if ORDER.index(entry.severity) >= floor]


def _due(settings: EscalationSettings, now: datetime) -> list[Any]:
    """Open, unacknowledged, severe enough, old enough, and not escalated within a repeat."""
    code = _case_code()
    return [
        C.open_attempts > 0,
        C.acknowledged_at.is_(None),
        code.in_(escalating_codes(settings.min_severity)),
        C.first_seen <= now - timedelta(seconds=settings.after_seconds),
        or_(
            C.escalated_at.is_(None),
            C.escalated_at <= now - timedelta(seconds=settings.repeat_seconds),
        ),
    ]


def _case_code() -> Any:
    """The code a case is about (`triage.cases`): its final code, else its last attempt's."""
    return func.coalesce(C.final_code, C.last_code)


def claim(connection: Connection, settings: EscalationSettings, now: datetime) -> list[Any]:
    """Move every due, unsilenced case's escalation on to `now`; returns the cases claimed."""
    held = silenced_by(now)
    candidates = list(connection.scalars(select(C.id).where(*_due(settings, now), held.is_(None))))
    if not candidates:
        return []
    # One conditional UPDATE per case, its row count the verdict: an evaluator that got there
    # first (another instance, even at the same instant) moved the case past the condition.
    mine = [
        case_id
        for case_id in candidates
        if connection.execute(
            update(cases)
            .where(C.id == case_id, *_due(settings, now))
            .values(escalations=C.escalations + 1, escalated_at=now)
        ).rowcount
        == 1
    ]
    query = select(cases).where(C.id.in_(mine)).order_by(C.first_seen, C.id)
    return list(connection.execute(query).all()) if mine else []


def route_of(row: Any, routes: Sequence[EscalationRoute]) -> int | None:
    """The index of the first route matching the case, or None for the defaults."""
    code = row.final_code or row.last_code
    for index, candidate in enumerate(routes):
        if candidate.code is not None and candidate.code != code:
            continue
        if candidate.severity is not None and candidate.severity != severity_of(code):
            continue
        return index
    return None


def channels(settings: EscalationSettings) -> dict[int | None, list[Channel]]:
    """Each destination's channels: None for `escalation.urls`, else a route's index."""
    found: dict[int | None, list[Channel]] = {None: parse_channels(settings.urls, "escalation ")}
    for index, candidate in enumerate(settings.routes):
        found[index] = parse_channels(candidate.urls, f"escalation route {index + 1} ")
    return found


def every_channel(settings: EscalationSettings) -> list[Channel]:
    return [channel for group in channels(settings).values() for channel in group]


def escalate(
    engine: Engine, settings: EscalationSettings, *, now: datetime, dashboard_url: str | None
) -> int:
    """Evaluate once: claim the due cases and queue one message per destination; returns how
    many cases were escalated."""
    if not settings.enabled:
        return 0
    destinations = channels(settings)
    with engine.begin() as connection:
        claimed = claim(connection, settings, now)
        groups: dict[int | None, list[Any]] = {}
        for row in claimed:
            groups.setdefault(route_of(row, settings.routes), []).append(row)
        for destination, rows in groups.items():
            _queue(connection, rows, destinations[destination], now, dashboard_url)
    return len(claimed)


def as_listed(row: Any, now: datetime) -> EscalatedCase:
    """A case row as a message lists it: customer, code, date, how long open, owner."""
    return EscalatedCase(
        row.id,
        row.customer_id,
        row.final_code or row.last_code,
        row.business_date,
        (now - row.first_seen).total_seconds() / 3600,
        row.owner,
    )


def _queue(
    connection: Connection,
    rows: list[Any],
    to: list[Channel],
    now: datetime,
    dashboard_url: str | None,
) -> None:
    listed = [as_listed(row, now) for row in rows]
    rendered = render_escalation(cases=listed, shown=SHOWN, dashboard_url=dashboard_url)
    outbox.add_message(
        connection, rendered, kind="escalation", now=now, count=len(rows), channels=to
    )
