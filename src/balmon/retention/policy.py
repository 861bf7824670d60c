"""Which rows retention may archive and delete: their age, the holds, and what points at them.

A row's age is the business date of its run (the date every audit row carries; a row logged
outside a run, which has none, is aged by when it was logged). A table's rows go once older
than its `keep_days`; a table that others point at keeps its rows as long as theirs, so a
run stays while any of its attempts, results or alerts do, and an attempt while its
resolution history does. Held rows are never selected, nor what they point at.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    FromClause,
    Table,
    and_,
    exists,
    func,
    not_,
    or_,
    select,
    true,
)

from balmon.config.settings import RetentionSettings
from balmon.storage.schema import (
    alert_deliveries,
    alert_messages,
    alerts,
    case_events,
    cases,
    digests,
    error_log_resolutions,
    error_logs,
    legal_holds,
    quality_alarms,
    run_alarms,
    run_leases,
    verification_results,
    verification_runs,
)

# The settings keys whose longest keep_days governs each table. A run stays as long as
# anything of it does; an attempt and its resolution history stay together, because verify
# checks the attempt's resolution against its hashed history.
_GOVERNED_BY: dict[str, tuple[str, ...]] = {
    "error_log_resolutions": ("error_logs", "error_log_resolutions"),
    "case_events": ("error_logs", "error_log_resolutions"),
    "error_logs": ("error_logs", "error_log_resolutions"),
    "verification_results": ("verification_results",),
    "cases": ("error_logs", "error_log_resolutions", "verification_results"),
    "alerts": ("alerts",),
    "run_alarms": ("alerts",),
    "quality_alarms": ("alerts",),
    "digests": ("alerts",),
    "alert_deliveries": ("alerts",),
    "alert_messages": ("alerts",),
    "run_leases": (
        "error_logs", "error_log_resolutions", "verification_results", "alerts",
        "verification_runs",
    ),
    "verification_runs": (
        "error_logs", "error_log_resolutions", "verification_results", "alerts",
        "verification_runs",
    ),
}  # fmt: skip


@dataclass(frozen=True)
class Holds:
    """The legal holds in force: whole customers, whole dates, and customers on a date."""

    customers: frozenset[str] = frozenset()
    dates: frozenset[date] = frozenset()
    pairs: frozenset[tuple[str, date]] = frozenset()
    rows: tuple[dict[str, Any], ...] = ()

    def free(self, customer: Any | None, day: Any) -> ColumnElement[bool]:
        """A row of `customer` on `day` is not held. A table without customers (`customer`
        None: runs, messages) is held by date here, and by customer through the held rows
        that point at it (`Retained.blockers`)."""
        conditions: list[ColumnElement[bool]] = []
        if self.dates:
            conditions.append(or_(day.is_(None), day.not_in(sorted(self.dates))))
        if customer is not None:
            if self.customers:
                conditions.append(or_(customer.is_(None), customer.not_in(sorted(self.customers))))
            for held, on in sorted(self.pairs):
                conditions.append(not_(and_(customer == held, day == on)))
        return and_(true(), *conditions)


def holds_in_force(connection: Connection) -> Holds:
    h = legal_holds.c
    rows = connection.execute(
        select(h.id, h.customer_id, h.business_date, h.reason)
        .where(h.released_at.is_(None))
        .order_by(h.id)
    ).all()
    return Holds(
        customers=frozenset(r.customer_id for r in rows if r.business_date is None),
        dates=frozenset(r.business_date for r in rows if r.customer_id is None),
        pairs=frozenset(
            (r.customer_id, r.business_date)
            for r in rows
            if r.customer_id is not None and r.business_date is not None
        ),
        rows=tuple(
            {
                "id": r.id,
                "customer_id": r.customer_id,
                "business_date": r.business_date.isoformat() if r.business_date else None,
                "reason": r.reason,
            }
            for r in rows
        ),
    )


@dataclass(frozen=True)
class Retained:
    """One table retention archives: how to read its rows with their age and owner, and what
    must be gone before one of its rows may go."""

    table: Table
    source: FromClause
    day: Any  # the business date of the row's run
    logged: Any = None  # when the row was written, for rows without a date
    customer: Any = None
    blockers: tuple[Any, ...] = ()  # rows that point at this one, as correlated EXISTS
    extra: tuple[Any, ...] = ()  # labelled columns archived with the row (not in its table)
    chained: bool = False
    keys: tuple[str, ...] = ("id",)
    parent: str | None = None  # a column pointing at another row of the same table

    @property
    def name(self) -> str:
        return self.table.name


def _pointing(child: Table, column: str, at: Any) -> Any:
    return exists().where(child.c[column] == at)


_msg_run = verification_runs.alias("message_run")
_message_day = func.coalesce(alert_messages.c.business_date, _msg_run.c.business_date)
_delivered = alert_messages.alias("delivered")
_delivered_run = verification_runs.alias("delivered_run")
_attempt = error_logs.alias("attempt")

# In the order they are deleted: rows before the rows they point at.
TABLES: tuple[Retained, ...] = (
    Retained(
        case_events,
        case_events,
        case_events.c.business_date,
        logged=case_events.c.at,
        customer=case_events.c.customer_id,
        chained=True,
    ),
    Retained(
        error_log_resolutions,
        error_log_resolutions.outerjoin(
            _attempt, _attempt.c.id == error_log_resolutions.c.error_log_id
        ),
        _attempt.c.business_date,
        logged=error_log_resolutions.c.changed_at,
        customer=_attempt.c.customer_id,
        extra=(_attempt.c.chain_hash.label("attempt_hash"),),
        chained=True,
    ),
    Retained(
        error_logs,
        error_logs,
        error_logs.c.business_date,
        logged=error_logs.c.logged_at,
        customer=error_logs.c.customer_id,
        blockers=(_pointing(error_log_resolutions, "error_log_id", error_logs.c.id),),
        chained=True,
    ),
    Retained(
        verification_results,
        verification_results,
        verification_results.c.business_date,
        customer=verification_results.c.customer_id,
        chained=True,
    ),
    Retained(
        cases,
        cases,
        cases.c.business_date,
        customer=cases.c.customer_id,
        blockers=tuple(
            exists().where(
                t.c.business_date == cases.c.business_date, t.c.customer_id == cases.c.customer_id
            )
            for t in (error_logs, verification_results)
        ),
    ),
    Retained(alerts, alerts, alerts.c.business_date, customer=alerts.c.customer_id),
    Retained(run_alarms, run_alarms, run_alarms.c.business_date, keys=("business_date", "reason")),
    Retained(
        quality_alarms,
        quality_alarms,
        quality_alarms.c.business_date,
        keys=("business_date", "code"),
    ),
    Retained(digests, digests, digests.c.day, keys=("day",)),
    Retained(
        alert_deliveries,
        alert_deliveries.join(
            _delivered, _delivered.c.id == alert_deliveries.c.message_id
        ).outerjoin(_delivered_run, _delivered_run.c.id == _delivered.c.run_id),
        func.coalesce(_delivered.c.business_date, _delivered_run.c.business_date),
        logged=_delivered.c.created_at,
        blockers=(
            *(
                _pointing(t, "message_id", alert_deliveries.c.message_id)
                for t in (alerts, run_alarms, quality_alarms, digests)
            ),
        ),
    ),
    Retained(
        alert_messages,
        alert_messages.outerjoin(_msg_run, _msg_run.c.id == alert_messages.c.run_id),
        _message_day,
        logged=alert_messages.c.created_at,
        blockers=tuple(
            _pointing(t, "message_id", alert_messages.c.id)
            for t in (alerts, alert_deliveries, run_alarms, quality_alarms, digests)
        ),
    ),
    Retained(run_leases, run_leases, run_leases.c.business_date, keys=("business_date",)),
    Retained(
        verification_runs,
        verification_runs,
        verification_runs.c.business_date,
        blockers=tuple(
            _pointing(t, "run_id", verification_runs.c.id)
            for t in (verification_results, error_logs, alerts, alert_messages, run_leases)
        ),
        parent="parent_run_id",  # a rerun's original goes after it (`retention.apply`)
    ),
)
BY_NAME = {t.name: t for t in TABLES}


@dataclass(frozen=True)
class Policy:
    """Retention's limits as of one day: per table, the days kept and the first date kept."""

    today: date
    keep_days: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, settings: RetentionSettings, today: date) -> Policy:
        keep = {
            table: max(settings.keep(key) for key in governed)
            for table, governed in _GOVERNED_BY.items()
        }
        return cls(today, keep)

    def cutoff(self, table: str) -> date:
        """Rows dated before this are old enough to go."""
        return self.today - timedelta(days=self.keep_days[table])

    def eligible(self, retained: Retained, holds: Holds) -> ColumnElement[bool]:
        """Old enough, not held, and nothing left that points at it."""
        cutoff = self.cutoff(retained.name)
        old = retained.day < cutoff
        if retained.logged is not None:
            since = datetime.combine(cutoff, time(), UTC)
            old = or_(old, and_(retained.day.is_(None), retained.logged < since))
        blocked = [not_(b) for b in retained.blockers]
        return and_(old, holds.free(retained.customer, retained.day), *blocked)
