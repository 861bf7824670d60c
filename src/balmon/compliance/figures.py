"""Every figure of the compliance report for a period of business dates, read in one
consistent snapshot of the database (`audit.verify.snapshot`).

Dates are business dates (the day verified, not the day the run happened); "attempts" are
`error_logs` rows (every failed attempt, plus one per rejected customer-file line); cases are
one customer's problem of one date (`triage`), the unit operators resolve.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, distinct, func, select

from balmon.audit.manifests import RETENTION
from balmon.audit.seals import head
from balmon.audit.verify import verify
from balmon.engine import results
from balmon.errors.taxonomy import CODES, DATA_QUALITY, ErrorCode, Severity
from balmon.scheduling.calendar import Schedule
from balmon.storage.schema import (
    alert_deliveries,
    alert_messages,
    alerts,
    audit_events,
    cases,
    error_logs,
    legal_holds,
    quality_alarms,
    verification_results,
    verification_runs,
)
from balmon.storage.states import RunStatus, Status
from balmon.triage import timing

URGENT = (Severity.HIGH, Severity.CRITICAL)
RECOVERED = (Status.PASS, Status.FAIL)  # a later attempt got the balance: nothing is missing
MOST_LISTED = 100  # unresolved urgent cases listed one by one


@dataclass(frozen=True)
class RunLine:
    business_date: date
    run_id: int
    kind: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    total: int
    passed: int
    failed: int
    unavailable: int
    invalid_input: int

    @property
    def seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


@dataclass(frozen=True)
class Resolution:
    """Cases of one code (or one severity): how many, how many resolved, how fast."""

    key: str
    severity: str
    cases: int
    resolved: int
    median_hours: float | None

    @property
    def rate(self) -> float | None:
        return self.resolved / self.cases if self.cases else None


@dataclass(frozen=True)
class OpenCase:
    business_date: date
    customer_id: str
    code: str
    severity: str
    age_days: int


@dataclass
class Figures:
    start: date
    end: date
    generated_at: datetime
    database: str
    age_days: int
    runs: list[RunLine] = field(default_factory=list)
    expected_dates: list[date] = field(default_factory=list)
    completed_dates: list[date] = field(default_factory=list)
    verifications: dict[str, int] = field(default_factory=dict)
    customers_verified: int = 0
    attempts_by_day: dict[date, dict[str, int]] = field(default_factory=dict)
    attempts_by_code: dict[str, int] = field(default_factory=dict)
    customers_by_code: dict[str, int] = field(default_factory=dict)
    customers_affected: int = 0
    data_quality: dict[str, tuple[int, int]] = field(default_factory=dict)
    # The day rules' alarms of the period: (business date, code, what was found).
    day_alarms: list[tuple[date, str, str]] = field(default_factory=list)
    # Time to acknowledge and to resolve, over the period's cases (`triage.timing`).
    open_times: dict[str, Any] = field(default_factory=dict)
    by_code: list[Resolution] = field(default_factory=list)
    by_severity: list[Resolution] = field(default_factory=list)
    open_urgent: list[OpenCase] = field(default_factory=list)
    open_urgent_total: int = 0
    alerts: dict[str, int] = field(default_factory=dict)
    retention: list[dict[str, Any]] = field(default_factory=list)
    archived_into: bool = False  # retention archived rows dated in the period
    holds: list[dict[str, Any]] = field(default_factory=list)
    verify: dict[str, Any] = field(default_factory=dict)

    @property
    def missed_dates(self) -> list[date]:
        done = set(self.completed_dates)
        return [d for d in self.expected_dates if d not in done]


def gather(
    connection: Connection,
    start: date,
    end: date,
    *,
    schedule: Schedule,
    now: datetime,
    age_days: int = 3,
) -> Figures:
    """The report's figures for business dates `start`..`end` (call inside `snapshot`)."""
    found = Figures(start, end, now, connection.dialect.name, age_days)
    _runs(connection, found, schedule, now)
    _outcomes(connection, found)
    _attempts(connection, found)
    _day_alarms(connection, found)
    found.open_times = timing.open_times(connection, start, end)
    _resolutions(connection, found, now)
    _alerts(connection, found)
    _retention(connection, found)
    report = verify(connection, start=start, end=end)
    seals, digest = head(connection)
    found.verify = {
        "intact": report.intact,
        "rows": report.rows,
        "segments": report.segments,
        "seals": seals,
        "anchor": digest,
        "findings": [f"{f.problem}: {f.table}: {f.detail}" for f in report.findings],
    }
    return found


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def _runs(connection: Connection, found: Figures, schedule: Schedule, now: datetime) -> None:
    r = verification_runs.c
    rows = connection.execute(
        select(verification_runs)
        .where(r.business_date.between(found.start, found.end))
        .order_by(r.business_date, r.id)
    )
    for row in rows:
        found.runs.append(
            RunLine(
                row.business_date,
                row.id,
                row.kind,
                row.status,
                row.started_at,
                row.finished_at,
                row.total,
                row.pass_count,
                row.fail_count,
                row.unavailable_count,
                row.invalid_input_count,
            )
        )
    # A date is due from balmon's first run on (nothing was missed before it existed) to
    # the newest date the schedule has fired for, or a later one already run by hand.
    due = schedule.due_dates(now)
    first_run = connection.scalar(select(func.min(r.business_date)))
    newest = max([*due[-1:], *(line.business_date for line in found.runs)], default=None)
    if first_run is not None and newest is not None:
        begin, last = max(found.start, first_run), min(found.end, newest)
        found.expected_dates = [
            d for d in _days(begin, last) if schedule.calendar.is_business_day(d)
        ]
    found.completed_dates = sorted(
        {line.business_date for line in found.runs if line.status == RunStatus.COMPLETED}
    )


def _outcomes(connection: Connection, found: Figures) -> None:
    totals = {"PASS": 0, "FAIL": 0, "UNAVAILABLE": 0}
    for day in sorted({line.business_date for line in found.runs}):
        outcomes = results.of_date(connection, day)
        for status, n in outcomes.by_status().items():
            totals[status.value] += n
    v = verification_results.c
    found.verifications = totals
    found.customers_verified = int(
        connection.scalar(
            select(func.count(distinct(v.customer_id))).where(
                v.business_date.between(found.start, found.end)
            )
        )
        or 0
    )


def _attempts(connection: Connection, found: Figures) -> None:
    e = error_logs.c
    in_range = e.business_date.between(found.start, found.end)
    rows = connection.execute(
        select(e.business_date, e.error_code, func.count())
        .where(in_range)
        .group_by(e.business_date, e.error_code)
    )
    for day, code, n in rows:
        found.attempts_by_day.setdefault(day, {})[code] = int(n)
        found.attempts_by_code[code] = found.attempts_by_code.get(code, 0) + int(n)
    customers = connection.execute(
        select(e.error_code, func.count(distinct(e.customer_id)))
        .where(in_range)
        .group_by(e.error_code)
    )
    found.customers_by_code = {code: int(n) for code, n in customers}
    found.customers_affected = int(
        connection.scalar(select(func.count(distinct(e.customer_id))).where(in_range)) or 0
    )
    found.data_quality = {
        code.value: (
            found.attempts_by_code.get(code.value, 0),
            found.customers_by_code.get(code.value, 0),
        )
        for code in DATA_QUALITY
    }


def _day_alarms(connection: Connection, found: Figures) -> None:
    q = quality_alarms.c
    rows = connection.execute(
        select(q.business_date, q.code, q.detail)
        .where(q.business_date.between(found.start, found.end))
        .order_by(q.business_date, q.code)
    )
    found.day_alarms = [(day, str(code), str(detail)) for day, code, detail in rows]


def _hours(rows: list[Any]) -> float | None:
    spans = [
        (row.resolved_at - row.first_seen).total_seconds() / 3600
        for row in rows
        if row.resolved_at is not None
    ]
    return round(statistics.median(spans), 2) if spans else None


def _resolution(key: str, severity: str, group: list[Any]) -> Resolution:
    resolved = sum(r.resolved_at is not None for r in group)
    return Resolution(key, severity, len(group), resolved, _hours(group))


def _resolutions(connection: Connection, found: Figures, now: datetime) -> None:
    c = cases.c
    rows = connection.execute(
        select(
            c.business_date,
            c.customer_id,
            func.coalesce(c.final_code, c.last_code).label("code"),
            c.first_seen,
            c.resolved_at,
            c.outcome,
        ).where(c.business_date.between(found.start, found.end))
    ).all()
    by_code: dict[str, list[Any]] = {}
    by_severity: dict[str, list[Any]] = {}
    for row in rows:
        by_code.setdefault(row.code, []).append(row)
        by_severity.setdefault(CODES[ErrorCode(row.code)].severity.value, []).append(row)
    found.by_code = [
        _resolution(code, CODES[ErrorCode(code)].severity.value, group)
        for code, group in sorted(by_code.items())
    ]
    found.by_severity = [
        _resolution(severity.value, severity.value, group)
        for severity in Severity
        if (group := by_severity.get(severity.value))
    ]
    limit = now - timedelta(days=found.age_days)
    urgent = sorted(
        (
            r
            for r in rows
            if r.resolved_at is None
            and r.outcome not in RECOVERED
            and CODES[ErrorCode(r.code)].severity in URGENT
            and r.first_seen <= limit
        ),
        key=lambda r: (r.first_seen, r.customer_id),
    )
    found.open_urgent_total = len(urgent)
    found.open_urgent = [
        OpenCase(
            r.business_date,
            r.customer_id,
            r.code,
            CODES[ErrorCode(r.code)].severity.value,
            (now - r.first_seen).days,
        )
        for r in urgent[:MOST_LISTED]
    ]


def _alerts(connection: Connection, found: Figures) -> None:
    a, m, d = alerts.c, alert_messages.c, alert_deliveries.c
    in_range = a.business_date.between(found.start, found.end)
    raised = int(connection.scalar(select(func.count()).where(in_range)) or 0)
    silenced = int(
        connection.scalar(select(func.count()).where(in_range, a.silence_id.is_not(None))) or 0
    )
    messages = select(m.id).where(m.business_date.between(found.start, found.end))
    statuses = {
        status: int(n)
        for status, n in connection.execute(
            select(d.status, func.count()).where(d.message_id.in_(messages)).group_by(d.status)
        )
    }
    found.alerts = {
        "raised": raised,
        "silenced": silenced,
        "messages": int(
            connection.scalar(select(func.count()).select_from(messages.subquery())) or 0
        ),
        "sent": statuses.get("sent", 0),
        "failed": statuses.get("failed", 0),
        "pending": statuses.get("pending", 0),
    }


def _retention(connection: Connection, found: Figures) -> None:
    """Retention applied during the period, and whether any application reached into it (its
    figures then count only the rows still in the database)."""
    ev = audit_events.c
    for event in connection.execute(
        select(audit_events).where(ev.action == RETENTION).order_by(ev.id)
    ):
        manifest = json.loads(event.details)
        cutoffs = [date.fromisoformat(d) for d in manifest.get("cutoffs", {}).values()]
        if cutoffs and min(cutoffs) > found.start and any(manifest.get("rows", {}).values()):
            found.archived_into = True
        if not found.start <= event.at.date() <= found.end:
            continue
        found.retention.append(
            {
                "at": event.at,
                "actor": event.actor,
                "name": manifest.get("name"),
                "rows": sum(manifest.get("rows", {}).values()),
                "digest": event.digest,
            }
        )
    h = legal_holds.c
    found.holds = [
        {
            "id": row.id,
            "customer_id": row.customer_id,
            "business_date": row.business_date,
            "reason": row.reason,
            "created_by": row.created_by,
            "created_at": row.created_at,
        }
        for row in connection.execute(
            select(legal_holds).where(h.released_at.is_(None)).order_by(h.id)
        )
    ]
