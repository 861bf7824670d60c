"""The dashboard application: pages, JSON API, metrics, health; and how to serve it."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Protocol

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine, text
from starlette.exceptions import HTTPException as StarletteHTTPException

from balmon import __version__
from balmon.config import Settings
from balmon.dashboard import (
    alert_pages,
    api,
    case_api,
    case_owners,
    case_pages,
    fails,
    metrics,
    pages,
    report_pages,
    silence_routes,
)
from balmon.dashboard.auth import Principal, Role, warm_up
from balmon.dashboard.methods import HttpMethods
from balmon.dashboard.report_jobs import ReportJobs
from balmon.dashboard.security import LoginThrottle, RequireRole, SecurityHeaders
from balmon.errors import LoginRequired
from balmon.scheduling.launcher import Launch, RunLauncher


class RunStarter(Protocol):
    async def start(self, day: date) -> Launch:
        """Claim the date's run and start it; return once the claim is decided."""
        ...


class MetricsAccess(RequireRole):
    """A viewer's token or session, unless `dashboard.metrics_public` opens /metrics."""

    async def __call__(self, request: Request) -> Principal:
        if request.app.state.settings.dashboard.metrics_public:
            return Principal("metrics", Role.VIEWER, None)
        return await super().__call__(request)


def create_app(
    *, settings: Settings, engine: Engine, run_starter: RunStarter | None = None
) -> FastAPI:
    # The OpenAPI document is served by `openapi_document`, to logged-in users only, and
    # without Swagger UI (it would load scripts from a CDN the CSP rightly forbids).
    app = FastAPI(
        title="balmon", version=__version__, docs_url=None, redoc_url=None, openapi_url=None
    )
    app.state.settings = settings
    app.state.engine = engine
    warm_up()  # before the first login, so the first unknown user is not answered faster
    # Runs started from the Runs page go through the same claim as the scheduler's, in this
    # process and with this server's settings.
    app.state.run_starter = run_starter or RunLauncher(settings=settings, engine=engine)
    app.state.throttle = LoginThrottle()
    app.state.report_jobs = ReportJobs(settings)
    app.add_middleware(SecurityHeaders)
    app.add_exception_handler(LoginRequired, pages.login_redirect)
    app.add_exception_handler(StarletteHTTPException, pages.http_problem)
    app.add_exception_handler(RequestValidationError, pages.validation_problem)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    app.include_router(api.router)
    app.include_router(case_api.router)
    app.include_router(case_owners.router)
    app.include_router(fails.api_router)
    app.include_router(silence_routes.api_router)
    app.include_router(alert_pages.api_router)
    for router in (
        pages.router,
        case_pages.router,
        case_owners.page_router,
        fails.page_router,
        silence_routes.page_router,
        alert_pages.page_router,
        report_pages.router,
    ):
        app.include_router(router, include_in_schema=False)  # pages: the API is the contract
    app.add_api_route(
        "/api/openapi.json", openapi_document, methods=["GET"], include_in_schema=False
    )
    app.add_api_route("/healthz", healthz, methods=["GET"], include_in_schema=False)
    app.add_api_route("/metrics", metrics_route, methods=["GET"], include_in_schema=False)
    app.add_middleware(HttpMethods, routes=app.router.routes)
    return app


def openapi_document(
    request: Request, who: Annotated[Principal, Depends(RequireRole(Role.VIEWER))]
) -> JSONResponse:
    """The API's OpenAPI document (logged-in users: it maps every route)."""
    app: FastAPI = request.app
    return JSONResponse(app.openapi())


def healthz(request: Request) -> PlainTextResponse:
    """Liveness and database reachability, without login."""
    engine: Engine = request.app.state.engine
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    return PlainTextResponse("ok")


def metrics_route(
    request: Request, who: Annotated[Principal, Depends(MetricsAccess(Role.VIEWER))]
) -> Response:
    body = metrics.render(request.app.state.engine, request.app.state.settings)
    return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")
