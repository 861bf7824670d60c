"""The process one business date's run lives in when `serve` or `scheduler` starts it.

A run writes, renews its lease and prepares alerts with synchronous database calls; on the
event loop that serves the dashboard those calls stall every request, so each run gets a
process of its own, whose memory goes back to the system when it ends. The parent hands over
its own `Settings` object: the child runs exactly the configuration the service started
with, never a command line parsed again.

Messages on the pipe go to the parent only, pickled by `multiprocessing`: ("opened", Launch)
once the date's claim is decided, then ("ended", Launch) with the outcome. The exit codes are
`balmon run`'s: 0 completed, 1 failed or refused, 143 or 130 when stopped by SIGTERM or
SIGINT (what is done is committed, the run is marked interrupted and resumes later).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from dataclasses import dataclass
from datetime import date
from multiprocessing.connection import Connection

from balmon import aio, limits, logs
from balmon.config import Settings
from balmon.engine import RunRequest
from balmon.engine.lease import AlreadyCompleted, OpenedRun
from balmon.engine.run import OpenHook
from balmon.errors import BalmonError, ConfigError, LeaseLost, RunRefused, RunStuck
from balmon.lifecycle import Shutdown
from balmon.scheduling.launch import Launch, LaunchState
from balmon.scheduling.verify import verify_date
from balmon.storage.statements import failure_reason

log = logging.getLogger("balmon.scheduling")
# A run is batch work beside a dashboard people wait on: on a busy machine the kernel
# serves the web process first. Alone, the run still has every idle core.
NICENESS = 5
EXIT_OK = 0
EXIT_FAILED = 1


@dataclass
class _Claim:
    run_id: int | None = None


def main(connection: Connection, settings: Settings, day: date) -> None:
    """The run process's entry point (spawned by `balmon.children`, which has already made it
    follow its parent: SIGTERM when the service dies)."""
    with contextlib.suppress(OSError):
        os.nice(NICENESS)  # its fetcher processes inherit it
    logs.configure(settings.logging)
    logs.bind(business_date=day.isoformat())
    code = aio.run(_run(connection, settings, day))
    connection.close()
    sys.exit(code)


async def _run(connection: Connection, settings: Settings, day: date) -> int:
    task = asyncio.current_task()
    assert task is not None
    shutdown = Shutdown(grace=settings.engine.shutdown_grace_seconds, stop=task.cancel)
    shutdown.install()
    claim = _Claim()

    def opened(outcome: OpenedRun | AlreadyCompleted) -> None:
        claim.run_id = outcome.run_id
        done = isinstance(outcome, AlreadyCompleted)
        state = LaunchState.ALREADY_COMPLETED if done else LaunchState.RUNNING
        _send(connection, "opened", Launch(day, state, outcome.run_id))

    try:
        launch = await _outcome(settings, day, opened)
    except asyncio.CancelledError:
        name = shutdown.name or "SIGTERM"
        _send(connection, "ended", Launch(day, LaunchState.INTERRUPTED, claim.run_id, name))
        return shutdown.exit_code or 128 + signal.SIGTERM
    _send(connection, "ended", launch)
    good = launch.state in (LaunchState.COMPLETED, LaunchState.ALREADY_COMPLETED, LaunchState.MOVED)
    return EXIT_OK if good else EXIT_FAILED


async def _outcome(settings: Settings, day: date, opened: OpenHook) -> Launch:
    try:
        summary = await verify_date(settings, RunRequest(day), on_open=opened)
    except RunRefused as exc:
        if isinstance(exc, RunStuck):
            # Refused on every pass until someone ends that session: say so louder than a
            # refusal by a live owner, which is routine with two instances.
            log.warning("run refused", extra={"reason": str(exc)})
        return Launch(day, LaunchState.REFUSED, reason=str(exc))
    except LeaseLost as exc:
        return Launch(day, LaunchState.MOVED, reason=str(exc))
    except ConfigError as exc:
        return Launch(day, LaunchState.FAILED, reason=f"config error: {exc}")
    except BalmonError as exc:
        return Launch(day, LaunchState.FAILED, reason=limits.clip(str(exc), limits.REASON))
    except Exception as exc:
        log.exception("run crashed")
        return Launch(day, LaunchState.FAILED, reason=failure_reason(exc))
    done = summary.already_completed
    state = LaunchState.ALREADY_COMPLETED if done else LaunchState.COMPLETED
    return Launch(day, state, summary.run_id)


def _send(connection: Connection, kind: str, launch: Launch) -> None:
    # A parent that is gone learns nothing; the run's state is in the database regardless.
    with contextlib.suppress(OSError):
        connection.send((kind, launch))
