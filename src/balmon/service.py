"""The long-running process: the dashboard, the scheduler, and the runs they start.

`balmon serve` runs the dashboard and the scheduler (or the dashboard alone with
`--no-scheduler`), `balmon scheduler` the scheduler alone. One loop, one job: uvicorn's event
loop only serves HTTP. The scheduler and the run launcher live on a loop of their own in a
background thread (their database calls never hold up a request), and each run lives in a
child process (`scheduling.child`). SIGTERM and SIGINT stop everything cleanly: uvicorn
finishes its requests, the run's process commits its work and marks the run interrupted
(exit 143), the lease is released.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Coroutine, Iterator
from datetime import date
from typing import Any, TypeVar

import uvicorn
from sqlalchemy import Engine

from balmon import aio
from balmon.config import Settings
from balmon.dashboard.app import create_app
from balmon.lifecycle import Shutdown
from balmon.scheduling.launcher import Launch, RunLauncher
from balmon.scheduling.scheduler import Scheduler

T = TypeVar("T")


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


class _Background:
    """A thread running an event loop of its own, for the scheduler and the launcher."""

    def __init__(self) -> None:
        self.loop = aio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="balmon-scheduler")

    def __enter__(self) -> _Background:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    async def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run `coroutine` on the background loop and wait for it from the caller's loop."""
        return await asyncio.wrap_future(self.submit(coroutine))


class _BridgedStarter:
    """The dashboard's way to the launcher, which lives on the background loop."""

    def __init__(self, launcher: RunLauncher, background: _Background) -> None:
        self._launcher = launcher
        self._background = background

    async def start(self, day: date) -> Launch:
        return await self._background.call(self._launcher.start(day))


class _SchedulerTask:
    """The scheduler's task on the background loop, cancelled and awaited from the web loop."""

    def __init__(self, background: _Background, scheduler: Scheduler) -> None:
        self._background = background
        self._task = background.submit(_as_task(scheduler.run())).result()

    def cancel(self) -> None:
        self._background.loop.call_soon_threadsafe(self._task.cancel)

    def on_end(self, callback: Any) -> None:
        self._background.loop.call_soon_threadsafe(self._task.add_done_callback, callback)

    async def ended(self) -> BaseException | None:
        """Wait for the end; the error that stopped it, if any (not its cancellation)."""
        return await self._background.call(_outcome(self._task))


async def _as_task(coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
    return asyncio.create_task(coroutine, name="scheduler")


async def _outcome(task: asyncio.Task[None]) -> BaseException | None:
    await asyncio.gather(task, return_exceptions=True)
    return None if task.cancelled() else task.exception()


async def serve(*, settings: Settings, engine: Engine, scheduler: bool) -> Shutdown:
    """Serve the dashboard (and run the scheduler) until a signal; returns how it stopped."""
    with _Background() as background:
        launcher = RunLauncher(settings=settings, engine=engine)
        starter = _BridgedStarter(launcher, background)
        app = create_app(settings=settings, engine=engine, run_starter=starter)
        server = _Server(uvicorn_config(settings, app))
        scheduling = None
        if scheduler:
            scheduling = _SchedulerTask(background, _scheduler(settings, engine, launcher))

        def stop() -> None:
            server.should_exit = True
            if scheduling is not None:
                scheduling.cancel()

        shutdown = Shutdown(grace=settings.engine.shutdown_grace_seconds, stop=stop)
        shutdown.install()
        if scheduling is not None:
            # A scheduler that cannot start (database gone) must not leave a dashboard that
            # looks healthy while nothing runs: stop, and let systemd restart the service.
            scheduling.on_end(lambda _: setattr(server, "should_exit", True))
        error: BaseException | None = None
        try:
            await server.serve()
        finally:
            if scheduling is not None:
                scheduling.cancel()
                error = await scheduling.ended()
            await background.call(launcher.stop())
    if error is not None and not shutdown.requested:
        raise error  # why the scheduler stopped
    return shutdown


async def run_scheduler(*, settings: Settings, engine: Engine) -> Shutdown:
    """Run the scheduler alone until a signal; returns how it stopped."""
    launcher = RunLauncher(settings=settings, engine=engine)
    scheduling = asyncio.create_task(_scheduler(settings, engine, launcher).run())
    shutdown = Shutdown(grace=settings.engine.shutdown_grace_seconds, stop=scheduling.cancel)
    shutdown.install()
    with contextlib.suppress(asyncio.CancelledError):
        await scheduling
    return shutdown


def _scheduler(settings: Settings, engine: Engine, launcher: RunLauncher) -> Scheduler:
    return Scheduler(settings=settings, engine=engine, launcher=launcher)
