"""The JSON API. Every route declares the role it needs (`RequireRole`)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from sqlalchemy import Engine

from balmon.compliance.as_csv import spreadsheet_cell
from balmon.dashboard import models, queries
from balmon.dashboard.auth import Principal, Role
from balmon.dashboard.params import (
    AnyDay,
    AnySeverity,
    Code,
    CustomerId,
    Day,
    Flag,
    Notes,
    Page,
    known_id,
    window_from,
    window_start,
    window_to,
)
from balmon.dashboard.queries import ErrorFilter
from balmon.dashboard.resolution import Outcome, resolve, resolve_matching
from balmon.dashboard.security import RequireRole
from balmon.errors import info
from balmon.quality import alarms as quality_alarms
from balmon.scheduling import run_date_refusal
from balmon.scheduling.launcher import LaunchState

router = APIRouter(prefix="/api", responses=models.EVERY_ROUTE)
Viewer = Annotated[Principal, Depends(RequireRole(Role.VIEWER))]
Operator = Annotated[Principal, Depends(RequireRole(Role.OPERATOR))]
Admin = Annotated[Principal, Depends(RequireRole(Role.ADMIN))]


def engine_of(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def error_filter(
    date: AnyDay = None,
    code: Code | None = None,
    severity: AnySeverity = None,
    customer_id: CustomerId | None = None,
    resolved: Flag = None,
    sort: str = "-logged_at",
    page: Page = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
) -> ErrorFilter:
    return ErrorFilter(
        date,
        code or None,
        severity or None,
        customer_id or None,
        resolved,
        sort,
        page,
        page_size,
    )


Filter = Annotated[ErrorFilter, Depends(error_filter)]


def default_day(request: Request, day: date | None) -> date:
    if day is not None:
        return day
    with engine_of(request).connect() as c:
        return queries.latest_date(c) or datetime.now(UTC).date()


@router.get("/summary", response_model=models.Summary)
def summary(request: Request, who: Viewer, date: AnyDay = None) -> dict[str, Any]:
    with engine_of(request).connect() as c:
        return queries.summary(c, default_day(request, date))


@router.get("/errors", response_model=models.AttemptPage, response_model_exclude_unset=True)
def errors(request: Request, who: Viewer, f: Filter) -> dict[str, Any]:
    with engine_of(request).connect() as c:
        items, total = queries.list_errors(c, f, with_trace=who.can(Role.ADMIN))
    return {"items": items, "total": total, "page": f.page, "page_size": f.page_size}


@router.get(
    "/errors.csv",
    response_class=StreamingResponse,
    responses=models.csv_file("Matching attempts as CSV"),
)
def errors_csv(request: Request, who: Viewer, f: Filter) -> StreamingResponse:
    columns = [
        "id",
        "run_id",
        "business_date",
        "customer_id",
        "error_code",
        "error_message",
        "retry_count",
        "logged_at",
        "resolved",
        "resolution_notes",
        "resolved_by",
        "resolved_at",
    ]

    def rows() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(columns)
        with engine_of(request).connect() as c:
            for row in queries.export_rows(c, f):
                writer.writerow([spreadsheet_cell(getattr(row, col)) for col in columns])
                if buffer.tell() > 65536:
                    yield buffer.getvalue()
                    buffer.seek(0)
                    buffer.truncate()
        yield buffer.getvalue()

    headers = {"Content-Disposition": 'attachment; filename="balmon-errors.csv"'}
    return StreamingResponse(rows(), media_type="text/csv", headers=headers)


@router.get(
    "/errors/{error_id}",
    response_model=models.AttemptDetail,
    response_model_exclude_unset=True,
    responses=models.problems(404),
)
def error_detail(request: Request, who: Viewer, error_id: int) -> dict[str, Any]:
    with engine_of(request).connect() as c:
        item = queries.error_detail(c, known_id(error_id, "error"), with_trace=who.can(Role.ADMIN))
    if item is None:
        raise HTTPException(404, "no such error")
    return item


class ResolveBody(BaseModel):
    notes: Notes


@router.post(
    "/errors/{error_id}/resolve",
    response_model=models.AttemptResolved,
    responses=models.problems(404, 409),
)
def resolve_error(
    request: Request, who: Operator, error_id: int, body: ResolveBody
) -> dict[str, Any]:
    """Resolve one open attempt; 409 when it is resolved already (its resolution stays)."""
    outcome = resolve(
        engine_of(request),
        known_id(error_id, "error"),
        notes=body.notes,
        actor=who.name,
        now=datetime.now(UTC),
    )
    if outcome is not Outcome.RESOLVED:
        raise HTTPException(404 if outcome is Outcome.MISSING else 409, f"the error: {outcome}")
    return {"id": error_id, "resolved": True}


def require_bulk_scope(f: ErrorFilter) -> None:
    """A bulk resolve covers a date or a customer, never every date of a code."""
    if f.date is None and f.customer_id is None:
        raise HTTPException(422, "a bulk resolve needs a date or a customer_id filter")


@router.post("/errors/resolve", response_model=models.ResolvedCount)
def resolve_errors(request: Request, who: Operator, f: Filter, body: ResolveBody) -> dict[str, Any]:
    """Resolve every open attempt the filter matches; a date or customer is required."""
    require_bulk_scope(f)
    count = resolve_matching(
        engine_of(request), f, notes=body.notes, actor=who.name, now=datetime.now(UTC)
    )
    return {"resolved": count}


@router.get("/trends", response_model=models.Trends)
def trends(
    request: Request,
    who: Viewer,
    granularity: str = Query("day", pattern="^(hour|day)$"),
    start: Annotated[AnyDay, window_from()] = None,
    end: Annotated[AnyDay, window_to()] = None,
    code: str | None = None,
) -> dict[str, Any]:
    end = default_day(request, end)
    start = window_start(start, end, days=14 if granularity == "day" else 1)
    with engine_of(request).connect() as c:
        items = queries.trends(c, granularity=granularity, start=start, end=end, code=code)
    return {
        "granularity": granularity,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "periods": queries.periods(granularity, start, end),
        "colours": queries.CODE_COLOURS,
        "items": items,
    }


@router.get("/top-customers", response_model=models.TopCustomers)
def top_customers(
    request: Request,
    who: Viewer,
    n: Annotated[int, Query(ge=1, le=500)] = 10,
    start: Annotated[AnyDay, window_from()] = None,
    end: Annotated[AnyDay, window_to()] = None,
) -> dict[str, Any]:
    end = default_day(request, end)
    start = window_start(start, end, days=7)
    with engine_of(request).connect() as c:
        return {"items": queries.top_customers(c, n=n, start=start, end=end)}


@router.get("/quality-alarms", response_model=models.QualityAlarms)
def day_alarms(
    request: Request, who: Viewer, limit: Annotated[int, Query(ge=1, le=500)] = 20
) -> dict[str, Any]:
    """The data-quality alarms over whole business dates, newest date first (the Overview's)."""
    with engine_of(request).connect() as c:
        rows = quality_alarms.recent(c, limit=limit)
    return {
        "items": [
            {
                "business_date": row.business_date,
                "code": row.code,
                "severity": info(row.code).severity,
                "detail": row.detail,
                "folded": row.folded,
                "raised_at": row.raised_at,
                "message_id": row.message_id,
            }
            for row in rows
        ]
    }


@router.get("/runs", response_model=models.Runs)
def runs(
    request: Request,
    who: Viewer,
    page: Page = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """Runs, newest first, a page at a time."""
    with engine_of(request).connect() as c:
        items = queries.runs(c, page, page_size)
        total = queries.run_count(c)
    return {"items": items, "total": total, "page": page, "page_size": page_size}


class StartRun(BaseModel):
    date: Day


@router.post(
    "/runs",
    status_code=202,
    response_model=models.Launched,
    responses={
        409: {"model": models.Launched, "description": "Another run holds the date"},
        422: {
            "model": models.Launched | models.Problem,
            "description": "The run could not start, or the date cannot be used",
        },
    },
)
async def start_run(
    request: Request, response: Response, who: Admin, body: StartRun
) -> dict[str, Any]:
    refusal = run_date_refusal(body.date, request.app.state.settings, datetime.now(UTC))
    if refusal is not None:
        raise HTTPException(422, f"date: {refusal}")
    launch = await request.app.state.run_starter.start(body.date)
    if launch.state in (LaunchState.REFUSED, LaunchState.FAILED):
        response.status_code = 409 if launch.state is LaunchState.REFUSED else 422
    return {
        "date": body.date.isoformat(),
        "state": launch.state.value,
        "run_id": launch.run_id,
        "reason": launch.reason,
        "message": launch.describe(),
    }
