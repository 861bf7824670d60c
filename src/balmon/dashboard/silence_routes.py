"""Silences in the API and on the case page: who silenced what, why, until when."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ValidationError

from balmon.dashboard import flash, models
from balmon.dashboard.api import Operator, Viewer, engine_of
from balmon.dashboard.pages import page
from balmon.dashboard.params import Day, NamedCustomer, Notes, known_id
from balmon.errors import ErrorCode, UserError
from balmon.triage import case_detail, silences

api_router = APIRouter(prefix="/api", responses=models.EVERY_ROUTE)
page_router = APIRouter()


class SilenceBody(BaseModel):
    customer_id: NamedCustomer | None = None
    error_code: ErrorCode | None = None
    reason: Notes
    expires: Day | None = None  # the silence ends at the start of this date (UTC)


def _until(day: Any) -> datetime | None:
    return datetime.combine(day, time(), tzinfo=UTC) if day is not None else None


def _add(request: Request, who: Any, body: SilenceBody) -> int:
    new = silences.NewSilence(
        body.customer_id or None,
        body.error_code.value if body.error_code else None,
        body.reason,
        _until(body.expires),
    )
    try:
        return silences.add(engine_of(request), new, actor=who.name, now=datetime.now(UTC))
    except UserError as exc:
        raise HTTPException(422, str(exc)) from None


@api_router.get("/silences", response_model=models.Silences)
def list_silences(request: Request, who: Viewer, active: bool = True) -> dict[str, Any]:
    """Silences in force (or all, with `active=false`), newest first."""
    with engine_of(request).connect() as c:
        items = silences.listing(c, now=datetime.now(UTC), active_only=active)
    return {"items": items}


@api_router.post("/silences", status_code=201, response_model=models.Created)
def add_silence(request: Request, who: Operator, body: SilenceBody) -> dict[str, Any]:
    return {"id": _add(request, who, body)}


@api_router.post(
    "/silences/{silence_id}/expire",
    response_model=models.Expired,
    responses=models.problems(404),
)
def expire_silence(request: Request, who: Operator, silence_id: int) -> dict[str, Any]:
    done = silences.expire(
        engine_of(request),
        known_id(silence_id, "silence"),
        actor=who.name,
        now=datetime.now(UTC),
    )
    if not done:
        raise HTTPException(404, "no such silence in force")
    return {"id": silence_id, "expired": True}


@page_router.post("/cases/{case_id}/silence", response_model=None)
def silence_from_case(
    request: Request,
    who: Operator,
    case_id: int,
    scope: Annotated[str, Form(pattern="^(customer|code|both)$")],
    customer_id: Annotated[str, Form()],
    error_code: Annotated[ErrorCode, Form()],
    reason: Annotated[Notes, Form()],
    expires: Annotated[str, Form()] = "",
    confirmed: Annotated[str, Form()] = "",
) -> Response:
    with engine_of(request).connect() as c:  # the case first: no silence for a wrong id
        if case_detail(c, known_id(case_id, "case")) is None:
            raise HTTPException(404, "no such case")
    if scope == "code" and not expires.strip() and confirmed != "yes":
        # Every customer's alerts for a code, for good: one explicit step more.
        return page(
            request,
            "silence_confirm.html",
            who,
            case_id=case_id,
            customer_id=customer_id,
            code=error_code.value,
            reason=reason,
            active="silences",
        )
    try:
        body = SilenceBody(
            customer_id=customer_id if scope in ("customer", "both") else None,
            error_code=error_code if scope in ("code", "both") else None,
            reason=reason,
            expires=expires or None,
        )
    except ValidationError as exc:
        raise HTTPException(422, exc.errors()[0]["msg"]) from None
    silence_id = _add(request, who, body)
    response = RedirectResponse(f"/cases/{known_id(case_id, 'case')}", status_code=303)
    flash.flash(request, response, f"silence {silence_id} recorded: no alerts for it", good=True)
    return response


@page_router.get("/silences", response_class=HTMLResponse)
def silences_page(request: Request, who: Viewer) -> HTMLResponse:
    """Every silence, newest first, with who added or ended it; operators end them here."""
    with engine_of(request).connect() as c:
        items = silences.listing(c, now=datetime.now(UTC), active_only=False)
    in_force = sum(1 for s in items if s["active"])
    return page(request, "silences.html", who, items=items, in_force=in_force, active="silences")


@page_router.post("/silences/{silence_id}/expire")
def expire_from_page(request: Request, who: Operator, silence_id: int) -> RedirectResponse:
    done = silences.expire(
        engine_of(request),
        known_id(silence_id, "silence"),
        actor=who.name,
        now=datetime.now(UTC),
    )
    response = RedirectResponse("/silences", status_code=303)
    if done:
        flash.flash(
            request, response, f"silence {silence_id} ended: its alerts go out again", good=True
        )
    else:
        flash.flash(request, response, f"silence {silence_id} is not in force", good=False)
    return response
