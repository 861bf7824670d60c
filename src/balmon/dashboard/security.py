"""Who may do what: authentication, role checks, CSRF, login throttling, headers, 500s."""

from __future__ import annotations

import hmac
import logging
import time
import uuid
from collections import defaultdict, deque
from datetime import UTC, datetime, timedelta

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from balmon.dashboard import assets
from balmon.dashboard.auth import Principal, Role, session_principal, token_principal
from balmon.errors import LoginRequired

log = logging.getLogger("balmon.dashboard")
SESSION_COOKIE = "balmon_session"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


class RequireRole:
    """The permission check every route declares; the route-by-role test looks for it."""

    def __init__(self, role: Role) -> None:
        self.role = role

    async def __call__(self, request: Request) -> Principal:
        # Async only for the CSRF form read; the session lookup is a database call, and no
        # database call runs on the loop that serves every other request.
        principal = await run_in_threadpool(current_principal, request)
        if principal is None:
            if wants_html(request):
                raise LoginRequired
            raise HTTPException(401, "login required", headers={"WWW-Authenticate": "Bearer"})
        if not principal.can(self.role):
            raise HTTPException(403, f"needs the {self.role.label} role")
        if request.method == "POST" and principal.session_hash:
            await check_csrf(request, principal)
        return principal


def wants_html(request: Request) -> bool:
    """Pages answer a browser with HTML; the API and /metrics answer with JSON or text."""
    return not request.url.path.startswith(("/api/", "/metrics"))


def current_principal(request: Request) -> Principal | None:
    engine: Engine = request.app.state.engine
    now = datetime.now(UTC)
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return token_principal(engine, header[7:].strip(), now)
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    idle = timedelta(minutes=request.app.state.settings.dashboard.session_idle_minutes)
    return session_principal(engine, cookie, now, idle)


async def check_csrf(request: Request, principal: Principal) -> None:
    """Session-authenticated changes must echo the session's CSRF token (form field or header)."""
    sent = request.headers.get("X-CSRF-Token")
    if sent is None and request.headers.get("content-type", "").startswith(
        "application/x-www-form"
    ):
        value = (await request.form()).get("csrf_token")
        sent = value if isinstance(value, str) else None
    if not sent or not principal.csrf_token or not hmac.compare_digest(sent, principal.csrf_token):
        raise HTTPException(403, "missing or invalid CSRF token")


class LoginThrottle:
    """Failed logins in the last `window` seconds: at most `per_user` for one user name from
    anywhere, and `per_address` from one address for any user names.

    Per user, so rotating addresses (or a forged X-Forwarded-For) does not help a guesser;
    per address, so trying many user names from one place does not either.
    """

    def __init__(self, per_user: int = 5, per_address: int = 20, window: float = 300.0) -> None:
        self._limits = {"user": per_user, "address": per_address}
        self._window = window
        self._failures: dict[tuple[str, str], deque[float]] = defaultdict(deque)

    def blocked(self, user: str, address: str) -> bool:
        return any(self._recent(key) >= self._limits[key[0]] for key in _keys(user, address))

    def failed(self, user: str, address: str) -> None:
        for key in _keys(user, address):
            self._failures[key].append(time.monotonic())

    def succeeded(self, user: str, address: str) -> None:
        # The address keeps its count: one valid account must not reset a guesser's budget.
        self._failures.pop(("user", user.casefold()), None)

    def _recent(self, key: tuple[str, str]) -> int:
        # .get, not [key]: looking must not create an entry, or guessed names would pile up.
        failures = self._failures.get(key)
        if failures is None:
            return 0
        while failures and failures[0] < time.monotonic() - self._window:
            failures.popleft()
        if not failures:
            del self._failures[key]
        return len(failures)


def _keys(user: str, address: str) -> tuple[tuple[str, str], tuple[str, str]]:
    return ("user", user.casefold()), ("address", address)


class SecurityHeaders:
    """Headers on every response, and a generic page with a correlation id for any crash.

    Plain ASGI rather than `@app.middleware("http")`: Starlette's BaseHTTPMiddleware runs
    every response through an extra task and stream, a cost each request pays while a run
    keeps the machine busy."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                headers["Content-Security-Policy"] = CSP
                headers["X-Content-Type-Options"] = "nosniff"
                headers["X-Frame-Options"] = "DENY"
                headers["Referrer-Policy"] = "same-origin"
                headers["Cache-Control"] = _caching(request)
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception:
            if started:
                raise  # the status line is out: nothing better can be sent
            await _crash(request)(scope, receive, sending)


def _caching(request: Request) -> str:
    # Pages and API answers hold bank data: never stored. A static file named by its current
    # content hash never changes: kept for a year.
    path = request.url.path
    if path.startswith("/static/"):
        if assets.is_current(path, request.query_params.get("v")):
            return assets.IMMUTABLE
        return "no-cache"
    return "no-store"


def _crash(request: Request) -> Response:
    correlation = uuid.uuid4().hex[:12]
    log.exception("request failed", extra={"correlation_id": correlation, "path": request.url.path})
    if not wants_html(request):
        return JSONResponse(
            {"detail": "internal error", "correlation_id": correlation}, status_code=500
        )
    body = (
        "<!doctype html><title>Error</title><h1>Something went wrong</h1>"
        f"<p>The error was logged. Reference: <code>{correlation}</code></p>"
    )
    return HTMLResponse(body, status_code=500)
