"""Owning cases through the API: acknowledge, assign, comment, one case or every case a
filter matches (issue 24; a note on a resolved case is a comment: issue 22)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field, StringConstraints

from balmon import limits
from balmon.dashboard import flash, models
from balmon.dashboard.api import Operator, ResolveBody, engine_of
from balmon.dashboard.auth import Principal
from balmon.dashboard.case_api import CaseQuery
from balmon.dashboard.params import Notes, known_id
from balmon.triage import CaseFilter, ownership
from balmon.triage.ownership import Change, Refused

router = APIRouter(prefix="/api", responses=models.EVERY_ROUTE)
_STATUS = {Refused.NO_CASE: 404, Refused.RESOLVED: 409, Refused.UNKNOWN_OWNER: 422}
UserName = Annotated[str, StringConstraints(min_length=1, max_length=100)]
# A form's owner field: a user's name, "me" for the operator, empty for nobody.
OwnerField = Annotated[str, Form(max_length=100)]


class AckBody(BaseModel):
    notes: Notes | None = None


class AssignBody(BaseModel):
    owner: UserName | None = Field(description="A dashboard user's name; null unassigns")


def _answer(outcome: Change | Refused) -> dict[str, Any]:
    if isinstance(outcome, Refused):
        raise HTTPException(_STATUS[outcome], str(outcome))
    return {"id": outcome.case_id, "changed": outcome.changed}


def _now() -> datetime:
    return datetime.now(UTC)


@router.post(
    "/cases/{case_id}/ack",
    response_model=models.CaseChanged,
    responses=models.problems(404, 409),
)
def acknowledge(
    request: Request, who: Operator, case_id: int, body: AckBody | None = None
) -> dict[str, Any]:
    """Say "I'm on it": the case stops escalating. Acknowledging again changes nothing."""
    notes = body.notes if body else None
    engine = engine_of(request)
    case = known_id(case_id, "case")
    return _answer(ownership.acknowledge(engine, case, actor=who.name, now=_now(), notes=notes))


@router.post(
    "/cases/{case_id}/assign",
    response_model=models.CaseChanged,
    responses=models.problems(404, 409, 422),
)
def assign(request: Request, who: Operator, case_id: int, body: AssignBody) -> dict[str, Any]:
    """Give the case to a dashboard user (`null`: to nobody)."""
    engine, case = engine_of(request), known_id(case_id, "case")
    return _answer(ownership.assign(engine, case, owner=body.owner, actor=who.name, now=_now()))


@router.post(
    "/cases/{case_id}/comments",
    response_model=models.CaseChanged,
    responses=models.problems(404),
)
def comment(request: Request, who: Operator, case_id: int, body: ResolveBody) -> dict[str, Any]:
    """A note in the case's history, open or resolved (a resolved case is never resolved
    again: a new note is a comment)."""
    engine, case = engine_of(request), known_id(case_id, "case")
    return _answer(ownership.comment(engine, case, notes=body.notes, actor=who.name, now=_now()))


def _bulk_filter(who: Principal, f: CaseFilter) -> CaseFilter:
    if f.day is None and f.start is None and f.customer_id is None:
        raise HTTPException(422, "a bulk change needs a date, a date range or a customer")
    return f


@router.post("/cases/ack", response_model=models.ChangedCount)
def acknowledge_all(
    request: Request, who: Operator, f: CaseQuery, body: AckBody | None = None
) -> dict[str, Any]:
    """Acknowledge every open case the filter matches; a date or customer is required."""
    notes = body.notes if body else None
    done = ownership.acknowledge_matching(
        engine_of(request), _bulk_filter(who, f), actor=who.name, now=_now(), notes=notes
    )
    return {"changed": done}


@router.post("/cases/assign", response_model=models.ChangedCount, responses=models.problems(422))
def assign_all(request: Request, who: Operator, f: CaseQuery, body: AssignBody) -> dict[str, Any]:
    """Assign every open case the filter matches; a date or customer is required."""
    done = ownership.assign_matching(
        engine_of(request), _bulk_filter(who, f), owner=body.owner, actor=who.name, now=_now()
    )
    if isinstance(done, Refused):
        raise HTTPException(_STATUS[done], str(done))
    return {"changed": done}


# The case page's buttons: the same actions as forms, back to the case with a message.
page_router = APIRouter()
_DONE = {
    "ack": "acknowledged: it no longer escalates",
    "assign": "assigned",
    "comments": "note added to its history",
}


def _back(request: Request, case_id: int, what: str, outcome: Change | Refused) -> Response:
    response = RedirectResponse(f"/cases/{case_id}", status_code=303)
    if isinstance(outcome, Refused):
        flash.flash(request, response, f"Case {case_id}: {outcome}", good=False)
    elif not outcome.changed:
        flash.flash(request, response, f"Case {case_id} already was so", good=True)
    else:
        flash.flash(request, response, f"Case {case_id} {_DONE[what]}", good=True)
    return response


@page_router.post("/cases/{case_id}/ack", response_model=None)
def acknowledge_page(
    request: Request,
    who: Operator,
    case_id: int,
    notes: Annotated[str, Form(max_length=limits.NOTES)] = "",
) -> Response:
    engine, case = engine_of(request), known_id(case_id, "case")
    text = notes.strip() or None
    outcome = ownership.acknowledge(engine, case, actor=who.name, now=_now(), notes=text)
    return _back(request, case, "ack", outcome)


@page_router.post("/cases/{case_id}/assign", response_model=None)
def assign_page(request: Request, who: Operator, case_id: int, owner: OwnerField = "") -> Response:
    engine, case = engine_of(request), known_id(case_id, "case")
    outcome = ownership.assign(engine, case, owner=_owner(owner, who), actor=who.name, now=_now())
    return _back(request, case, "assign", outcome)


@page_router.post("/cases/{case_id}/comments", response_model=None)
def comment_page(
    request: Request, who: Operator, case_id: int, notes: Annotated[Notes, Form()]
) -> Response:
    engine, case = engine_of(request), known_id(case_id, "case")
    outcome = ownership.comment(engine, case, notes=notes, actor=who.name, now=_now())
    return _back(request, case, "comments", outcome)


def _owner(field: str, who: Principal) -> str | None:
    """A form's owner: a user's name, "me" for the operator, empty for nobody."""
    text = field.strip()
    return {"me": who.name, "": None}.get(text, text)


def _to_queue(request: Request, text: str, *, good: bool) -> Response:
    response = RedirectResponse(f"/cases?{urlencode(request.query_params)}", status_code=303)
    flash.flash(request, response, text, good=good)
    return response


def _cases(count: int) -> str:
    return f"{count:,} {'case' if count == 1 else 'cases'}"


@page_router.post("/cases/ack", response_model=None)
def acknowledge_all_page(request: Request, who: Operator, f: CaseQuery) -> Response:
    done = ownership.acknowledge_matching(
        engine_of(request), _bulk_filter(who, f), actor=who.name, now=_now()
    )
    return _to_queue(request, f"{_cases(done)} acknowledged", good=True)


@page_router.post("/cases/assign", response_model=None)
def assign_all_page(
    request: Request, who: Operator, f: CaseQuery, owner: OwnerField = ""
) -> Response:
    name = _owner(owner, who)
    done = ownership.assign_matching(
        engine_of(request), _bulk_filter(who, f), owner=name, actor=who.name, now=_now()
    )
    if isinstance(done, Refused):
        return _to_queue(request, str(done), good=False)
    return _to_queue(request, f"{_cases(done)} assigned to {name or 'nobody'}", good=True)
