"""The work queue and the case page: the operators' unit of work."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from balmon.dashboard import flash
from balmon.dashboard.api import Operator, Viewer, default_day, engine_of
from balmon.dashboard.auth import Principal, list_users
from balmon.dashboard.case_api import CaseQuery, full_case, resolve_bulk
from balmon.dashboard.pages import page
from balmon.dashboard.params import Notes, known_id
from balmon.errors import CODES
from balmon.triage import (
    CaseFilter,
    count_cases,
    describe_regression,
    list_cases,
    resolve_case,
)

router = APIRouter()


@router.get("/cases", response_class=HTMLResponse)
def queue(request: Request, who: Viewer, f: CaseQuery) -> HTMLResponse:
    if f.day is None and f.start is None and f.end is None and not f.customer_id:
        # The landing page is the day's work: the latest business date unless one is asked.
        f = replace(f, day=default_day(request, None))
    if "outcome" not in request.query_params and not f.customer_id:
        # What needs action first; the rest a click away (a customer asked for: all of it).
        f = replace(f, outcome="action")
    params = {k: v for k, v in request.query_params.items() if k != "page"}
    if f.day is not None:
        params.setdefault("date", f.day.isoformat())  # the bulk step acts on what is shown
    params["outcome"] = f.outcome
    tab_params = {k: v for k, v in params.items() if k != "outcome"}
    with engine_of(request).connect() as c:
        items, total = list_cases(c, f)
        open_count = count_cases(c, _open_only(f)) if f.resolved is not True else 0
        tab_counts = {
            kind: count_cases(c, replace(_open_only(f), outcome=kind))
            for kind in ("action", "recovered")
        }
    return page(
        request,
        "cases.html",
        who,
        f=f,
        items=items,
        total=total,
        open_count=open_count,
        pages=max(1, -(-total // f.page_size)),
        codes=CODES,
        query=urlencode(params),
        tab_query=urlencode(tab_params),
        tab_counts=tab_counts,
        owners=[u.username for u in list_users(engine_of(request)) if not u.disabled],
        active="cases",
    )


def _open_only(f: CaseFilter) -> CaseFilter:
    return replace(f, resolved=False)


# Before /cases/{case_id}, which would take "resolve" for an id.
@router.get("/cases/resolve", response_class=HTMLResponse)
def resolve_all_step(request: Request, who: Operator, f: CaseQuery) -> HTMLResponse:
    """The explicit step before a bulk resolve: what it will close, and the note."""
    if f.day is None and f.start is None and f.customer_id is None:
        raise HTTPException(422, "a bulk resolve needs a date, a date range or a customer")
    preview = replace(_open_only(f), page=1, page_size=50)
    with engine_of(request).connect() as c:
        items, open_count = list_cases(c, preview)
    return page(
        request,
        "cases_resolve.html",
        who,
        f=f,
        items=items,
        open_count=open_count,
        query=urlencode(request.query_params),
        active="cases",
    )


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case(request: Request, who: Viewer, case_id: int) -> HTMLResponse:
    return _case_page(request, who, case_id)


def _case_page(
    request: Request, who: Principal, case_id: int, status: int = 200, draft: str | None = None
) -> HTMLResponse:
    item = full_case(request, case_id)
    regression = describe_regression(item["regression_of"]) if item["regression_of"] else None
    following = _next_open(request, item) if item["resolved"] else None
    owners = [u.username for u in list_users(engine_of(request)) if not u.disabled]
    return page(
        request,
        "case.html",
        who,
        status,
        k=item,
        regression=regression,
        draft=draft,
        next_case=following,
        owners=owners,
        active="cases",
    )


def _next_open(request: Request, item: dict[str, Any]) -> dict[str, Any] | None:
    """The open case the work queue of the same date lists first: where to go next."""
    day = date.fromisoformat(item["business_date"])
    with engine_of(request).connect() as c:
        first, _ = list_cases(c, CaseFilter(day=day, resolved=False, page_size=1))
    return first[0] if first else None


@router.post("/cases/resolve")
def resolve_all(
    request: Request, who: Operator, f: CaseQuery, notes: Annotated[Notes, Form()]
) -> RedirectResponse:
    count = resolve_bulk(request, who, f, notes)
    response = RedirectResponse(f"/cases?{urlencode(request.query_params)}", status_code=303)
    noun = "case" if count == 1 else "cases"
    flash.flash(request, response, f"{count} {noun} resolved", good=True)
    return response


@router.post("/cases/{case_id}/resolve", response_model=None)
def resolve(
    request: Request, who: Operator, case_id: int, notes: Annotated[Notes, Form()]
) -> Response:
    done = resolve_case(
        engine_of(request),
        known_id(case_id, "case"),
        notes=notes,
        actor=who.name,
        now=datetime.now(UTC),
    )
    if done is None:
        raise HTTPException(404, "no such case")
    if done == 0:
        # Another operator resolved it meanwhile: say so, and give the draft back.
        return _case_page(request, who, case_id, status=409, draft=notes)
    response = RedirectResponse(f"/cases/{case_id}", status_code=303)
    noun = "attempt" if done == 1 else "attempts"
    flash.flash(request, response, f"Case {case_id} resolved ({done} {noun})", good=True)
    return response
