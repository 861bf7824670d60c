"""Read models for the dashboard and API: every query parameterised, all in one place."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, func, select, true

from balmon.alerts import outbox
from balmon.engine import results
from balmon.errors import CODES, info
from balmon.scaleout import chunks as run_chunks
from balmon.scheduling import instances
from balmon.storage.schema import (
    cases,
    error_log_resolutions,
    error_logs,
    verification_runs,
)
from balmon.storage.statements import hour_of

E, RUN = error_logs.c, verification_runs.c
SORTS = {
    "-logged_at": (E.logged_at.desc(), E.id.desc()),
    "logged_at": (E.logged_at.asc(), E.id.asc()),
    "customer_id": (E.customer_id.asc(), E.id.desc()),
    "-customer_id": (E.customer_id.desc(), E.id.desc()),
    "error_code": (E.error_code.asc(), E.id.desc()),
    "-retry_count": (E.retry_count.desc(), E.id.desc()),
}


@dataclass(frozen=True, slots=True)
class ErrorFilter:
    date: date | None = None
    code: str | None = None
    severity: str | None = None
    customer_id: str | None = None
    resolved: bool | None = None
    sort: str = "-logged_at"
    page: int = 1
    page_size: int = 50

    def conditions(self) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = []
        if self.date is not None:
            where.append(E.business_date == self.date)
        if self.code:
            where.append(E.error_code == self.code)
        if self.severity:
            codes = [
                c.value for c, entry in CODES.items() if entry.severity == self.severity.upper()
            ]
            where.append(E.error_code.in_(codes))
        if self.customer_id:
            where.append(E.customer_id == self.customer_id)
        if self.resolved is not None:
            where.append(E.resolved == self.resolved)
        return where


def error_item(row: Any, *, with_trace: bool) -> dict[str, Any]:
    item = {
        "id": row.id,
        "run_id": row.run_id,
        "business_date": row.business_date.isoformat() if row.business_date else None,
        "customer_id": row.customer_id,
        "error_code": row.error_code,
        "severity": info(row.error_code).severity.value,
        "error_message": row.error_message,
        "retry_count": row.retry_count,
        "logged_at": row.logged_at.isoformat(),
        "resolved": bool(row.resolved),
        "resolution_notes": row.resolution_notes,
        "resolved_by": row.resolved_by,
        "resolved_at": row.resolved_at.isoformat() if row.resolved_at else None,
    }
    if with_trace:
        item["stack_trace"] = row.stack_trace
    return item


def list_errors(
    c: Connection, f: ErrorFilter, *, with_trace: bool
) -> tuple[list[dict[str, Any]], int]:
    where = f.conditions()
    total = c.scalar(select(func.count()).select_from(error_logs).where(*where)) or 0
    order = SORTS.get(f.sort, SORTS["-logged_at"])
    query = select(error_logs).where(*where).order_by(*order)
    rows = c.execute(query.limit(f.page_size).offset((f.page - 1) * f.page_size)).all()
    return [error_item(r, with_trace=with_trace) for r in rows], int(total)


def export_rows(c: Connection, f: ErrorFilter) -> Any:
    """Every matching row, streamed, for the CSV export (no stack traces)."""
    query = select(error_logs).where(*f.conditions()).order_by(E.id)
    return c.execution_options(yield_per=2000).execute(query)


def error_detail(c: Connection, error_id: int, *, with_trace: bool) -> dict[str, Any] | None:
    row = c.execute(select(error_logs).where(E.id == error_id)).first()
    if row is None:
        return None
    item = error_item(row, with_trace=with_trace)
    others = (
        c.execute(
            select(error_logs)
            .where(E.run_id == row.run_id, E.customer_id == row.customer_id, E.id != row.id)
            .order_by(E.logged_at, E.id)
        ).all()
        if row.customer_id is not None
        else []
    )
    item["attempts"] = [error_item(o, with_trace=with_trace) for o in others]
    h = error_log_resolutions.c
    history = c.execute(
        select(error_log_resolutions).where(h.error_log_id == error_id).order_by(h.id)
    ).all()
    item["history"] = [
        {
            "resolved": bool(x.resolved),
            "notes": x.notes,
            "actor": x.actor,
            "at": x.changed_at.isoformat(),
        }
        for x in history
    ]
    entry = info(row.error_code)
    item["code"] = {
        "description": entry.description,
        "suggested_action": entry.suggested_action,
        "root_cause": entry.root_cause,
        "retryable": entry.retryable,
    }
    return item


def _date_runs(c: Connection, day: date) -> list[Any]:
    return list(
        c.execute(select(verification_runs).where(RUN.business_date == day).order_by(RUN.id)).all()
    )


def run_info(run: Any) -> dict[str, Any]:
    end = run.finished_at
    return {
        "id": run.id,
        "kind": run.kind,
        "status": run.status,
        "reason": run.reason,
        "started": run.started_at.isoformat(),
        "finished": end.isoformat() if end else None,
        "duration": (end - run.started_at).total_seconds() if end else None,
        "total": run.total,
        "pass": run.pass_count,
        "fail": run.fail_count,
        "unavailable": run.unavailable_count,
        "errors": run.error_count,
        "invalid_input": run.invalid_input_count,
    }


def summary(c: Connection, day: date) -> dict[str, Any]:
    runs = _date_runs(c, day)
    outcomes = results.of_date(c, day, several_runs=len(runs) > 1)
    errors = results.errors_by_code(c, day=day)
    return {
        "date": day.isoformat(),
        "pass": outcomes.passed,
        "fail": outcomes.failed,
        "unavailable": outcomes.unavailable,
        "errors_by_code": errors,
        "unavailable_by_code": outcomes.unavailable_by_code,
        "run": run_info(runs[-1]) if runs else None,
        "runs": len(runs),
        "alerts_pending": outbox.pending_on(c, day),
    }


def latest_date(c: Connection) -> date | None:
    value: date | None = c.scalar(select(func.max(RUN.business_date)))
    return value


def trends(
    c: Connection, *, granularity: str, start: date, end: date, code: str | None
) -> list[dict[str, Any]]:
    """Failed attempts per period and code, for business dates `start`..`end`.

    A day is a business date; an hour is the UTC hour the attempt was logged in.
    """
    period = (
        E.business_date if granularity == "day" else hour_of(E.logged_at, c.dialect.name)
    ).label("period")
    query = (
        select(period, E.error_code, func.count())
        .where(E.business_date >= start, E.business_date <= end)
        .where(E.error_code == code if code else true())
        .group_by(period, E.error_code)
        .order_by(period)
    )
    rows = c.execute(query)
    return [{"period": str(p), "code": k, "count": int(n)} for p, k, n in rows]


def periods(granularity: str, start: date, end: date) -> list[str]:
    """Every period of the window, so a chart shows quiet days and hours as zero."""
    if granularity == "hour":
        days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
        return [f"{d.isoformat()} {h:02d}:00" for d in days for h in range(24)]
    return [(start + timedelta(days=n)).isoformat() for n in range((end - start).days + 1)]


# One colour per error code, the same on every chart and page (the taxonomy's order).
PALETTE = ["#d92d20", "#f79009", "#1d4ed8", "#039855", "#7a5af8", "#dd2590", "#0e9384",
           "#667085", "#b54708", "#344054", "#6172f3", "#4e5ba6", "#c11574", "#107569",
           "#93370d", "#0086c9"]  # fmt: skip
CODE_COLOURS = {code.value: PALETTE[n % len(PALETTE)] for n, code in enumerate(CODES)}


def top_customers(c: Connection, *, n: int, start: date, end: date) -> list[dict[str, Any]]:
    """Customers with a case on the most business dates in the window, then the most failed
    attempts, then the most recent: a customer failing every day outranks one bad day."""
    k = cases.c
    days = func.count().label("days")
    attempts = func.sum(k.attempts).label("attempts")
    last = func.max(k.last_seen).label("last_seen")
    rows = c.execute(
        select(k.customer_id, days, attempts, last)
        .where(k.business_date >= start, k.business_date <= end)
        .group_by(k.customer_id)
        .order_by(days.desc(), attempts.desc(), last.desc(), k.customer_id)
        .limit(n)
    ).all()
    ids = [r[0] for r in rows]
    codes: dict[str, set[str]] = {cid: set() for cid in ids}
    if ids:
        found = c.execute(
            select(k.customer_id, func.coalesce(k.final_code, k.last_code)).where(
                k.customer_id.in_(ids), k.business_date >= start, k.business_date <= end
            )
        )
        for cid, code in found:
            codes[cid].add(code)
    return [
        {
            "customer_id": cid,
            "days": int(n_days),
            "errors": int(n_attempts or 0),
            "last_error_at": last_seen.isoformat(),
            "codes": sorted(codes[cid]),
        }
        for cid, n_days, n_attempts, last_seen in rows
    ]


def run_count(c: Connection) -> int:
    return int(c.scalar(select(func.count()).select_from(verification_runs)) or 0)


def runs(c: Connection, page: int = 1, page_size: int = 100) -> list[dict[str, Any]]:
    """One page of runs, newest first."""
    query = select(verification_runs).order_by(RUN.id.desc())
    rows = c.execute(query.limit(page_size).offset((page - 1) * page_size)).all()
    distributed = run_chunks.of_runs(c, [r.id for r in rows])
    return [
        {
            **run_info(r),
            "business_date": r.business_date.isoformat(),
            "parent_run_id": r.parent_run_id,
            # A distributed run's chunks (`engine.executor = "celery"`); None for a local run.
            "chunks": distributed[r.id].as_dict() if r.id in distributed else None,
        }
        for r in rows
    ]


def schedulers(c: Connection, limit: int = 10) -> list[dict[str, Any]]:
    """Scheduler instances, newest heartbeat first, with when they fire next."""
    rows = instances.newest(c, limit)
    return [
        {
            "name": r.name,
            "heartbeat": r.heartbeat_at.isoformat(),
            "last_fired": r.last_fired_at.isoformat() if r.last_fired_at else None,
            "next_firing": r.next_firing_at.isoformat() if r.next_firing_at else None,
            "next_business_date": r.next_business_date.isoformat()
            if r.next_business_date
            else None,
            "stopped": r.stopped_at is not None,
        }
        for r in rows
    ]
