"""The long-running process: the dashboard and the scheduler on one event loop.

`balmon serve` runs both (or the dashboard alone with `--no-scheduler`), `balmon scheduler`
the scheduler alone. SIGTERM and SIGINT stop both cleanly: uvicorn finishes its requests,
the scheduler's run commits its work and is marked interrupted, the lease is released.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

import uvicorn
from sqlalchemy import Engine

from balmon.config import Settings
from balmon.dashboard.app import create_app
from balmon.lifecycle import Shutdown
from balmon.scheduling.launcher import RunLauncher
from balmon.scheduling.scheduler import Scheduler


class _Server(uvicorn.Server):
    """uvicorn, with its signal handling left to `Shutdown` (it re-raises the signal)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def uvicorn_config(settings: Settings, app: Any) -> uvicorn.Config:
    """uvicorn's settings: X-Forwarded-* believed only from `dashboard.trusted_proxies`."""
    trusted = settings.dashboard.trusted_proxies
    return uvicorn.Config(
        app,
        host=settings.dashboard.host,
        port=settings.dashboard.port,
        log_config=None,  # uvicorn's lines go through balmon's JSON logging
        proxy_headers=bool(trusted),
        forwarded_allow_ips=",".join(trusted) if trusted else None,
    )


async def serve(*, settings: Settings, engine: Engine, scheduler: bool) -> Shutdown:
    """Serve the dashboard (and run the scheduler) until a signal; returns how it stopped."""
    launcher = RunLauncher(settings=settings, engine=engine)
    app = create_app(settings=settings, engine=engine, run_starter=launcher)
    server = _Server(uvicorn_config(settings, app))
    scheduling = _start_scheduler(settings, engine, launcher) if scheduler else None

    def stop() -> None:
        server.should_exit = True
        if scheduling is not None:
            scheduling.cancel()

    shutdown = Shutdown(grace=settings.engine.shutdown_grace_seconds, stop=stop)
    shutdown.install()
    if scheduling is not None:
        # A scheduler that cannot start (database gone) must not leave a dashboard that
        # looks healthy while nothing runs: stop, and let systemd restart the service.
        scheduling.add_done_callback(lambda _: setattr(server, "should_exit", True))
    try:
        await server.serve()
    finally:
        if scheduling is not None:
            scheduling.cancel()
            await asyncio.gather(scheduling, return_exceptions=True)
        await launcher.stop()
    if scheduling is not None and not shutdown.requested and not scheduling.cancelled():
        scheduling.result()  # re-raise why the scheduler stopped
    return shutdown


async def run_scheduler(*, settings: Settings, engine: Engine) -> Shutdown:
    """Run the scheduler alone until a signal; returns how it stopped."""
    launcher = RunLauncher(settings=settings, engine=engine)
    scheduling = _start_scheduler(settings, engine, launcher)
    shutdown = Shutdown(grace=settings.engine.shutdown_grace_seconds, stop=scheduling.cancel)
    shutdown.install()
    with contextlib.suppress(asyncio.CancelledError):
        await scheduling
    return shutdown


def _start_scheduler(
    settings: Settings, engine: Engine, launcher: RunLauncher
) -> asyncio.Task[None]:
    scheduler = Scheduler(settings=settings, engine=engine, launcher=launcher)
    return asyncio.create_task(scheduler.run(), name="scheduler")
