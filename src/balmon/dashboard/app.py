"""The dashboard application: pages, JSON API, metrics, health; and how to serve it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.responses import PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine, text

from balmon.config import Settings
from balmon.dashboard import api, metrics, pages
from balmon.dashboard.auth import Principal, Role
from balmon.dashboard.security import LoginRequired, LoginThrottle, RequireRole, security_headers

RunStarter = Callable[[date], None]
PUBLIC_PATHS = frozenset({"/healthz", "/login", "/static"})


def spawn_run(day: date) -> None:
    """Start `balmon run --date DAY` as its own process (it outlives the request)."""
    command = [sys.executable, "-m", "balmon", "run", "--date", day.isoformat()]
    subprocess.Popen(  # noqa: S603 (fixed argv: our own interpreter and a date)
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )


class MetricsAccess(RequireRole):
    """A viewer's token or session, unless `dashboard.metrics_public` opens /metrics."""

    async def __call__(self, request: Request) -> Principal:
        if request.app.state.settings.dashboard.metrics_public:
            return Principal("metrics", Role.VIEWER, None)
        return await super().__call__(request)


def create_app(
    *, settings: Settings, engine: Engine, run_starter: RunStarter | None = None
) -> FastAPI:
    app = FastAPI(title="balmon", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.state.engine = engine
    app.state.run_starter = run_starter or spawn_run
    app.state.throttle = LoginThrottle()
    app.middleware("http")(security_headers)
    app.add_exception_handler(LoginRequired, pages.login_redirect)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    app.include_router(api.router)
    app.include_router(pages.router)
    app.add_api_route("/healthz", healthz, methods=["GET"])
    app.add_api_route("/metrics", metrics_route, methods=["GET"])
    return app


def healthz(request: Request) -> PlainTextResponse:
    """Liveness and database reachability, without login."""
    engine: Engine = request.app.state.engine
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    return PlainTextResponse("ok")


def metrics_route(
    request: Request, who: Annotated[Principal, Depends(MetricsAccess(Role.VIEWER))]
) -> Response:
    body = metrics.render(request.app.state.engine)
    return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")


def serve(*, settings: Settings, engine: Engine) -> None:
    """Serve the dashboard on dashboard.host:dashboard.port until interrupted."""
    import uvicorn

    app = create_app(settings=settings, engine=engine)
    uvicorn.run(
        app, host=settings.dashboard.host, port=settings.dashboard.port, log_level="warning"
    )
