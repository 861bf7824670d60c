"""The cases API: the work queue, one case, resolving. Every route declares its role."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from balmon.alerts import outbox
from balmon.dashboard import models
from balmon.dashboard.api import Operator, ResolveBody, Viewer, engine_of
from balmon.dashboard.auth import Principal
from balmon.dashboard.params import (
    AnyDay,
    AnySeverity,
    Code,
    CustomerId,
    Flag,
    Page,
    known_id,
    window_from,
    window_to,
)
from balmon.engine.results import history_of
from balmon.triage import CaseFilter, case_detail, list_cases, resolve_case, resolve_matching

router = APIRouter(prefix="/api", responses=models.EVERY_ROUTE)
OUTCOMES = ("all", "action", "unavailable", "recovered", "UNAVAILABLE", "PASS", "FAIL")


def regression_days(request: Request) -> int:
    days: int = request.app.state.settings.triage.regression_days
    return days


def case_filter(
    request: Request,
    who: Viewer,
    date: AnyDay = None,
    start: Annotated[AnyDay, window_from()] = None,
    end: Annotated[AnyDay, window_to()] = None,
    outcome: Annotated[str, Query(pattern="^(" + "|".join(OUTCOMES) + ")$")] = "all",
    code: Code | None = None,
    severity: AnySeverity = None,
    customer_id: CustomerId | None = None,
    resolved: Flag = False,
    regression: Flag = None,
    silenced: Flag = None,
    quality: Flag = None,
    owner: Annotated[
        str | None,
        Query(
            max_length=100,
            description='A dashboard user\'s name, "me" for the caller, "none" for nobody\'s',
        ),
    ] = None,
    acknowledged: Flag = None,
    page: Page = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
) -> CaseFilter:
    return CaseFilter(
        date,
        start,
        end,
        outcome,
        code or None,
        severity or None,
        customer_id or None,
        resolved,
        page,
        page_size,
        regression,
        regression_days(request),
        silenced,
        quality=quality,
        owner=_owner(owner, who),
        acknowledged=acknowledged,
    )


def _owner(asked: str | None, who: Principal) -> str | None:
    """The owner filter: a name, the caller's ("me"), nobody's ("none": ""), or any (None)."""
    text = (asked or "").strip()
    if not text:
        return None
    return {"me": who.name, "none": ""}.get(text, text)


CaseQuery = Annotated[CaseFilter, Depends(case_filter)]


@router.get("/cases", response_model=models.CasePage)
def cases(request: Request, who: Viewer, f: CaseQuery) -> dict[str, Any]:
    """Cases, open ones by default: UNAVAILABLE first, then by severity and age."""
    with engine_of(request).connect() as c:
        items, total = list_cases(c, f)
    return {"items": items, "total": total, "page": f.page, "page_size": f.page_size}


def full_case(request: Request, case_id: int) -> dict[str, Any]:
    """The case with its attempts, its alerts and their delivery, and the customer's last
    30 business dates; 404 when there is no such case."""
    with engine_of(request).connect() as c:
        item = case_detail(c, known_id(case_id, "case"), regression_days=regression_days(request))
        if item is None:
            raise HTTPException(404, "no such case")
        day = date.fromisoformat(item["business_date"])
        item["alerts"] = outbox.alerts_of_case(c, day, item["customer_id"])
        item["dates"] = [
            {"business_date": d.isoformat(), "outcome": status}
            for d, status in history_of(c, item["customer_id"], end=day)
        ]
    return item


@router.get("/cases/{case_id}", response_model=models.CaseDetail, responses=models.problems(404))
def case(request: Request, who: Viewer, case_id: int) -> dict[str, Any]:
    """The case with its attempts, alerts and the customer's last 30 business dates."""
    return full_case(request, case_id)


@router.post(
    "/cases/{case_id}/resolve",
    response_model=models.CaseResolved,
    responses=models.problems(404, 409),
)
def resolve(request: Request, who: Operator, case_id: int, body: ResolveBody) -> dict[str, Any]:
    """Resolve every attempt of the case (the attempts keep their own history)."""
    done = resolve_case(
        engine_of(request),
        known_id(case_id, "case"),
        notes=body.notes,
        actor=who.name,
        now=datetime.now(UTC),
    )
    if done is None:
        raise HTTPException(404, "no such case")
    if done == 0:
        raise HTTPException(409, "the case is resolved already")
    return {"id": case_id, "resolved": True, "attempts_resolved": done}


@router.post("/cases/resolve", response_model=models.ResolvedCount)
def resolve_all(request: Request, who: Operator, f: CaseQuery, body: ResolveBody) -> dict[str, Any]:
    """Resolve every open case the filter matches; a date or customer is required."""
    return {"resolved": resolve_bulk(request, who, f, body.notes)}


def resolve_bulk(request: Request, who: Principal, f: CaseFilter, notes: str) -> int:
    """Resolve every open case `f` matches (the API's and the queue page's bulk resolve)."""
    if f.day is None and f.start is None and f.customer_id is None:
        raise HTTPException(422, "a bulk resolve needs a date, a date range or a customer")
    return resolve_matching(
        engine_of(request), f, notes=notes, actor=who.name, now=datetime.now(UTC)
    )
