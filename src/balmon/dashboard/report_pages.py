"""The compliance report for admins: pick a period and a format, download the same file
`balmon report` writes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from balmon.compliance.report import MEDIA_TYPES, Format, build
from balmon.dashboard.api import Admin, engine_of
from balmon.dashboard.auth import Principal
from balmon.dashboard.pages import page
from balmon.dashboard.params import Day
from balmon.dashboard.report_jobs import ReportJob

router = APIRouter()
MOST_DAYS = 400  # a year's report and some; a longer one is for `balmon report`


@router.get("/report", response_class=HTMLResponse)
def report_form(request: Request, who: Admin) -> HTMLResponse:
    today = datetime.now(UTC).date()
    first_of_month = today.replace(day=1)
    start = (first_of_month - timedelta(days=1)).replace(day=1)
    end = first_of_month - timedelta(days=1)
    return page(request, "report.html", who, start=start, end=end, active="report")


def _check_period(start: date, end: date) -> None:
    if start > end:
        raise HTTPException(422, "the period starts after it ends")
    if (end - start).days >= MOST_DAYS:
        raise HTTPException(422, f"at most {MOST_DAYS} days here; use `balmon report` for more")


@router.post("/report/jobs")
def start_report(
    request: Request,
    who: Admin,
    start: Annotated[Day, Form(alias="from")],
    end: Annotated[Day, Form(alias="to")],
    format: Annotated[Format, Form()] = Format.PDF,
) -> RedirectResponse:
    """Build the report in the background; its page shows when the file is ready."""
    _check_period(start, end)
    job = request.app.state.report_jobs.start(start=start, end=end, format=format, who=who.name)
    return RedirectResponse(f"/report/jobs/{job.id}", status_code=303)


def _job(request: Request, who: Principal, job_id: str) -> ReportJob:
    job: ReportJob | None = request.app.state.report_jobs.get(job_id, who.name)
    if job is None:
        raise HTTPException(404, "no such report (a report is kept while the server runs)")
    return job


@router.get("/report/jobs/{job_id}", response_class=HTMLResponse)
def report_job(request: Request, who: Admin, job_id: str) -> HTMLResponse:
    return page(request, "report_job.html", who, job=_job(request, who, job_id), active="report")


@router.get("/report/jobs/{job_id}/file")
def report_job_file(request: Request, who: Admin, job_id: str) -> Response:
    job = _job(request, who, job_id)
    if job.state != "ready":
        raise HTTPException(409, f"the report is {job.state}")
    disposition = f'attachment; filename="{job.filename}"'
    return Response(
        job.path.read_bytes(),
        media_type=MEDIA_TYPES[job.format],
        headers={"Content-Disposition": disposition},
    )


@router.get("/report/file")
def report_file(
    request: Request,
    who: Admin,
    start: Annotated[Day, Query(alias="from")],
    end: Annotated[Day, Query(alias="to")],
    format: Format = Format.HTML,
) -> Response:
    """The report at once, for scripts (the page builds it in the background)."""
    _check_period(start, end)
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
