"""Server-rendered pages for the operations team (Jinja2, autoescaped)."""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
)
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from balmon import money
from balmon.alerts import outbox
from balmon.dashboard import assets, auth, flash, queries
from balmon.dashboard.api import (
    Admin,
    Filter,
    Operator,
    Viewer,
    default_day,
    engine_of,
    require_bulk_scope,
)
from balmon.dashboard.auth import Principal, Role
from balmon.dashboard.params import AnyDay, Day, Days, Notes, Page, known_id, window_start
from balmon.dashboard.resolution import Outcome, open_count, resolve, resolve_matching
from balmon.dashboard.security import SESSION_COOKIE, current_principal, wants_html
from balmon.errors import CODES
from balmon.quality import alarms as quality_alarms
from balmon.scheduling import Schedule, run_date_refusal
from balmon.scheduling.alarms import problem_dates
from balmon.scheduling.launcher import LaunchState
from balmon.triage import CaseFilter, cases_by_code, count_cases, timing

router = APIRouter()
LOGIN_CSRF_COOKIE = "balmon_login_csrf"
RUNS_PER_PAGE = 100
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
templates.env.globals["static_url"] = assets.static_url
templates.env.filters["amount"] = money.shown


def page(
    request: Request, name: str, who: Principal | None, status: int = 200, **context: Any
) -> HTMLResponse:
    message = flash.take(request)
    trouble = _alerting_trouble(request) if who is not None else None
    response = templates.TemplateResponse(
        request,
        name,
        {"who": who, "Role": Role, "flash": message, "alerting": trouble, **context},
        status_code=status,
    )
    if message is not None:
        response.delete_cookie(flash.COOKIE, path="/")
    return response


def _alerting_trouble(request: Request) -> dict[str, int] | None:
    """Deliveries failing or given up: every page says so until alerting works again."""
    with engine_of(request).connect() as c:
        found = outbox.degraded(c, datetime.now(UTC))
    return found if any(found.values()) else None


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/cases") -> HTMLResponse:
    return _login_page(request, next, None)


def _login_page(request: Request, next: str, error: str | None, status: int = 200) -> HTMLResponse:
    """The login form with a fresh login CSRF token, in a cookie and in the form: a foreign
    page can post the form but cannot read or set the cookie, so it cannot log a victim's
    browser in as somebody else (login CSRF)."""
    token = secrets.token_urlsafe(24)
    response = page(
        request, "login.html", None, status, next=_safe_next(next), error=error, login_csrf=token
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=3600,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/login",
    )
    return response


def _safe_next(target: str) -> str:
    # Only local paths: an open redirect would help phishing.
    return target if target.startswith("/") and not target.startswith("//") else "/"


@router.post("/login", response_model=None)
def login(
    request: Request,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/cases",
    login_csrf: Annotated[str, Form()] = "",
) -> Response:
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not login_csrf or not hmac.compare_digest(cookie.encode(), login_csrf.encode()):
        error = "The login form had expired or came from another site; log in again."
        return _login_page(request, next, error, status=403)
    throttle = request.app.state.throttle
    address = request.client.host if request.client else "-"
    if throttle.blocked(username, address):
        error = "Too many failed attempts; wait a few minutes."
        return _login_page(request, next, error, status=429)
    user = auth.authenticate(engine_of(request), username, password, datetime.now(UTC))
    if user is None:
        throttle.failed(username, address)
        return _login_page(request, next, "Wrong user name or password.")
    throttle.succeeded(username, address)
    # A new session replaces the browser's old one, which ends here (no two live sessions
    # for one browser, and no session fixed before the login survives it).
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        auth.end_session(engine_of(request), auth.digest(old), datetime.now(UTC))
    session_id = auth.open_session(engine_of(request), user.id, datetime.now(UTC))
    response = RedirectResponse(_safe_next(next), status_code=303)
    # The scheme is the proxy's X-Forwarded-Proto only from `dashboard.trusted_proxies`.
    secure = request.url.scheme == "https"
    response.set_cookie(
        SESSION_COOKIE, session_id, httponly=True, samesite="strict", secure=secure, path="/"
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(request: Request, who: Viewer) -> RedirectResponse:
    if who.session_hash:
        auth.end_session(engine_of(request), who.session_hash, datetime.now(UTC))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# The Overview's window for how long problems stay open: the selected date and those before.
OPEN_TIMES_DAYS = 30


@router.get("/", response_class=HTMLResponse)
def overview(request: Request, who: Viewer, date: AnyDay = None) -> HTMLResponse:
    day = default_day(request, date)
    settings = request.app.state.settings
    with engine_of(request).connect() as c:
        data = queries.summary(c, day)
        problems = problem_dates(c, Schedule(settings.schedule), datetime.now(UTC))
        day_alarms = quality_alarms.recent(c, limit=10)
        times = timing.open_times(c, day - timedelta(days=OPEN_TIMES_DAYS - 1), day)
        by_code = cases_by_code(c, day)
        open_work = {
            kind: count_cases(c, CaseFilter(day=day, outcome=kind, resolved=False))
            for kind in ("action", "recovered")
        }
    return page(
        request,
        "overview.html",
        who,
        day=day,
        s=data,
        problems=problems,
        day_alarms=day_alarms,
        times=times,
        times_days=OPEN_TIMES_DAYS,
        cases=by_code,
        open_work=open_work,
        codes=CODES,
        active="overview",
    )


@router.get("/trends", response_class=HTMLResponse)
def trends(request: Request, who: Viewer, date: AnyDay = None) -> HTMLResponse:
    end = default_day(request, date)
    start = window_start(None, end, days=14)
    with engine_of(request).connect() as c:
        daily = queries.trends(c, granularity="day", start=start, end=end, code=None)
        hourly = queries.trends(c, granularity="hour", start=end, end=end, code=None)
    return page(
        request,
        "trends.html",
        who,
        day=end,
        daily=daily,
        hourly=hourly,
        days=queries.periods("day", start, end),
        hours=queries.periods("hour", end, end),
        colours=queries.CODE_COLOURS,
        active="trends",
    )


@router.get("/top-customers", response_class=HTMLResponse)
def top(
    request: Request,
    who: Viewer,
    date: AnyDay = None,
    days: Days = 7,
    n: Annotated[int, Query(ge=1, le=200)] = 20,
) -> HTMLResponse:
    end = default_day(request, date)
    with engine_of(request).connect() as c:
        items = queries.top_customers(c, n=n, start=window_start(None, end, days=days), end=end)
    return page(request, "top.html", who, day=end, items=items, days=days, active="top")


@router.get("/errors", response_class=HTMLResponse)
def errors(request: Request, who: Viewer, f: Filter) -> HTMLResponse:
    with engine_of(request).connect() as c:
        items, total = queries.list_errors(c, f, with_trace=False)
        bulk = open_count(c, f) if f.date is not None or f.customer_id else 0
    params = {k: v for k, v in request.query_params.items() if k != "page"}
    pages = max(1, -(-total // f.page_size))
    return page(
        request,
        "errors.html",
        who,
        f=f,
        items=items,
        total=total,
        pages=pages,
        codes=CODES,
        query=urlencode(params),
        filters=params,
        bulk=bulk,
        active="errors",
    )


@router.post("/errors/resolve")
def bulk_resolve(
    request: Request,
    who: Operator,
    f: Filter,
    notes: Annotated[Notes, Form()],
) -> RedirectResponse:
    require_bulk_scope(f)
    count = resolve_matching(
        engine_of(request), f, notes=notes, actor=who.name, now=datetime.now(UTC)
    )
    response = RedirectResponse(f"/errors?{urlencode(request.query_params)}", status_code=303)
    noun = "error" if count == 1 else "errors"
    flash.flash(request, response, f"{count:,} {noun} resolved", good=True)
    return response


@router.get("/errors/{error_id}", response_class=HTMLResponse)
def error_detail(request: Request, who: Viewer, error_id: int) -> HTMLResponse:
    return _error_page(request, who, error_id)


def _error_page(
    request: Request, who: Principal, error_id: int, status: int = 200, draft: str | None = None
) -> HTMLResponse:
    with engine_of(request).connect() as c:
        item = queries.error_detail(c, known_id(error_id, "error"), with_trace=who.can(Role.ADMIN))
    if item is None:
        raise HTTPException(404, "no such error")
    return page(request, "error.html", who, status, e=item, draft=draft, active="errors")


@router.post("/errors/{error_id}/resolve", response_model=None)
def resolve_one(
    request: Request,
    who: Operator,
    error_id: int,
    notes: Annotated[Notes, Form()],
) -> Response:
    outcome = resolve(
        engine_of(request),
        known_id(error_id, "error"),
        notes=notes,
        actor=who.name,
        now=datetime.now(UTC),
    )
    if outcome is Outcome.MISSING:
        raise HTTPException(404, "no such error")
    if outcome is Outcome.ALREADY:
        # Another operator resolved it meanwhile: say so, and give the draft back.
        return _error_page(request, who, error_id, status=409, draft=notes)
    response = RedirectResponse(f"/errors/{error_id}", status_code=303)
    flash.flash(request, response, f"Error {error_id} resolved", good=True)
    return response


@router.get("/codes", response_class=HTMLResponse)
def codes(request: Request, who: Viewer) -> HTMLResponse:
    return page(request, "codes.html", who, codes=CODES, active="codes")


@router.get("/runs", response_class=HTMLResponse)
def runs(
    request: Request, who: Viewer, page_no: Annotated[Page, Query(alias="page")] = 1
) -> HTMLResponse:
    with engine_of(request).connect() as c:
        items = queries.runs(c, page_no, RUNS_PER_PAGE)
        total = queries.run_count(c)
        schedulers = queries.schedulers(c)
    today = request.app.state.settings.schedule.today(datetime.now(UTC))
    return page(
        request,
        "runs.html",
        who,
        items=items,
        today=today,
        schedulers=schedulers,
        page_no=page_no,
        pages=max(1, -(-total // RUNS_PER_PAGE)),
        total=total,
        active="runs",
    )


@router.post("/runs")
async def start_run(request: Request, who: Admin, date: Annotated[Day, Form()]) -> RedirectResponse:
    response = RedirectResponse("/runs", status_code=303)
    refusal = run_date_refusal(date, request.app.state.settings, datetime.now(UTC))
    if refusal is not None:
        flash.flash(request, response, f"No run started: {refusal}", good=False)
        return response
    launch = await request.app.state.run_starter.start(date)
    good = launch.state in (
        LaunchState.RUNNING,
        LaunchState.COMPLETED,
        LaunchState.ALREADY_COMPLETED,
    )
    flash.flash(request, response, launch.describe(), good=good)
    return response


def login_redirect(request: Request, _: Exception) -> Response:
    """To the login form, then back: to this page, or for a form post to the form's page.

    A post cannot be replayed after login (its CSRF token belonged to the old session), so
    the operator returns to the page they were on; app.js keeps what they typed.
    """
    if request.method == "GET":
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    else:
        target = _same_site_page(request.headers.get("referer", ""), request)
    return RedirectResponse(f"/login?{urlencode({'next': target})}", status_code=303)


def _same_site_page(referer: str, request: Request) -> str:
    parts = urlsplit(referer)
    if parts.netloc != request.url.netloc or not parts.path.startswith("/"):
        return "/"
    return _safe_next(parts.path + (f"?{parts.query}" if parts.query else ""))


_HEADINGS = {
    400: "Bad request",
    403: "Not allowed",
    404: "Not found",
    405: "Not possible here",
    422: "Check what you entered",
    429: "Too many requests",
}


async def http_problem(request: Request, exc: Exception) -> Response:
    """An HTTP error: the API's JSON as FastAPI gives it, a page with the navigation else."""
    assert isinstance(exc, StarletteHTTPException)
    if not wants_html(request):
        return await http_exception_handler(request, exc)
    return await run_in_threadpool(
        _problem, request, exc.status_code, str(exc.detail), [], exc.headers
    )


async def validation_problem(request: Request, exc: Exception) -> Response:
    """Parameters that do not validate: which ones and why, as JSON or as a page."""
    assert isinstance(exc, RequestValidationError)
    if not wants_html(request):
        return await request_validation_exception_handler(request, exc)
    fields = [
        {"name": ".".join(str(part) for part in e["loc"][1:]) or "request", "message": _words(e)}
        for e in exc.errors()
    ]
    return await run_in_threadpool(
        _problem, request, 422, "Some values could not be used.", fields, None
    )


_CHOICES = re.compile(r"\^\(([\w|]+)\)\$")


def _words(error: Mapping[str, Any]) -> str:
    """A validation error as a sentence: never a raw pattern or a validator's prefix."""
    message = str(error.get("msg", ""))
    if error.get("type") == "string_pattern_mismatch":
        choices = _CHOICES.fullmatch(str(error.get("ctx", {}).get("pattern", "")))
        if choices:
            return "expected one of: " + ", ".join(choices[1].split("|"))
        return "not in the expected form"
    return message.removeprefix("Value error, ")


def _problem(
    request: Request,
    status: int,
    detail: str,
    fields: list[dict[str, str]],
    headers: Mapping[str, str] | None,
) -> Response:
    response = page(
        request,
        "problem.html",
        current_principal(request),
        status=status,
        heading=_HEADINGS.get(status, "Something is not right"),
        detail=detail,
        fields=fields,
    )
    response.headers.update(headers or {})
    return response
