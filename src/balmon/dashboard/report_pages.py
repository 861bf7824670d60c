"""The compliance report for admins: pick a period and a format, download the same file
`balmon report` writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response

from balmon.compliance.report import Format, build
from balmon.dashboard.api import Admin, engine_of
from balmon.dashboard.pages import page
from balmon.dashboard.params import Day

router = APIRouter()
MOST_DAYS = 400  # a year's report and some; a longer one is for `balmon report`


@router.get("/report", response_class=HTMLResponse)
def report_form(request: Request, who: Admin) -> HTMLResponse:
    today = datetime.now(UTC).date()
    first_of_month = today.replace(day=1)
    start = (first_of_month - timedelta(days=1)).replace(day=1)
    end = first_of_month - timedelta(days=1)
    return page(request, "report.html", who, start=start, end=end, active="report")


@router.get("/report/file")
def report_file(
    request: Request,
    who: Admin,
    start: Annotated[Day, Query(alias="from")],
    end: Annotated[Day, Query(alias="to")],
    format: Format = Format.HTML,
) -> Response:
    if start > end:
        raise HTTPException(422, "the period starts after it ends")
    if (end - start).days >= MOST_DAYS:
        raise HTTPException(422, f"at most {MOST_DAYS} days here; use `balmon report` for more")
    report = build(
        engine_of(request),
        request.app.state.settings,
        start=start,
        end=end,
        format=format,
        now=datetime.now(UTC),
    )
    disposition = f'attachment; filename="{report.filename}"'
    return Response(
        report.body, media_type=report.media_type, headers={"Content-Disposition": disposition}
    )
