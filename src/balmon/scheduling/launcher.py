"""Start a business date's run in a supervised child process (for the scheduler and the
dashboard): the web server's event loop never does a run's database work.

The child (`scheduling.child`) takes the same database lease as `balmon run`, so a date is
verified once however many processes try. `start` returns as soon as the claim is decided,
with the real outcome (running, already completed, held by another process, or failed with
its reason). One child per instance at a time. `stop` sends it SIGTERM: it commits what is
done, marks the run interrupted and exits 143; the next run of the date resumes it. A child
that dies without saying how it ended is a failed run, its reason recorded on the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import signal
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from sqlalchemy import Engine

from balmon import children
from balmon.config import Settings
from balmon.engine.lease import Owner, close_run
from balmon.scheduling.launch import Launch, LaunchState
from balmon.storage.states import RunStatus

__all__ = ["Launch", "LaunchState", "RunLauncher"]

log = logging.getLogger("balmon.scheduling")


@dataclass
class _Child:
    day: date
    process: BaseProcess
    connection: Connection
    opened: asyncio.Future[Launch]
    supervisor: asyncio.Task[Launch] | None = field(default=None)


# A run that moved to another process is worth a look (why did this one stall?), not a page.
_LEVELS = {LaunchState.FAILED: logging.ERROR, LaunchState.MOVED: logging.WARNING}


class RunLauncher:
    """Runs business dates in child processes, one at a time."""

    def __init__(self, *, settings: Settings, engine: Engine, owner: Owner | None = None) -> None:
        self._settings = settings
        self._engine = engine
        self._host = (owner or Owner.me()).host
        self._children: dict[date, _Child] = {}

    def running(self) -> list[date]:
        """Dates whose run process is going on."""
        return sorted(day for day, c in self._children.items() if not _over(c))

    async def start(self, day: date) -> Launch:
        """Claim and start the date's run; return once the claim is decided."""
        busy = self.running()
        if day in busy:
            return Launch(day, LaunchState.REFUSED, reason="already running in this process")
        if busy:
            reason = f"this instance is running {busy[0]}; it runs one date at a time"
            return Launch(day, LaunchState.REFUSED, reason=reason)
        child = self._spawn(day)
        supervisor = asyncio.create_task(self._supervise(child), name=f"run {day}")
        child.supervisor = supervisor
        self._children[day] = child
        waiting: set[asyncio.Future[Launch]] = {child.opened, supervisor}
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        return child.opened.result() if child.opened.done() else supervisor.result()

    async def run(self, day: date) -> Launch:
        """Claim, run and wait for the end of the date's run."""
        first = await self.start(day)
        if first.state is LaunchState.REFUSED:
            return first
        return await self.wait(day)

    async def wait(self, day: date) -> Launch:
        """The end of the date's latest run process (cancelling the wait leaves it running)."""
        supervisor = self._children[day].supervisor
        assert supervisor is not None
        return await asyncio.shield(supervisor)

    async def stop(self) -> None:
        """SIGTERM to every run process; each commits its work and marks its run interrupted.
        One that has not exited within `engine.shutdown_grace_seconds` is killed."""
        children = [c for c in self._children.values() if not _over(c)]
        for one in children:
            if one.process.is_alive():
                one.process.terminate()
        supervisors = [c.supervisor for c in children if c.supervisor is not None]
        if not supervisors:
            return
        grace = self._settings.engine.shutdown_grace_seconds
        _, late = await asyncio.wait(supervisors, timeout=grace)
        for one in children:
            if one.process.is_alive():
                one.process.kill()
        if late:
            await asyncio.gather(*late, return_exceptions=True)

    def _spawn(self, day: date) -> _Child:
        context = multiprocessing.get_context("spawn")
        mine, theirs = context.Pipe(duplex=False)
        # Not a daemon: a run may start fetcher processes of its own (`engine.processes`).
        # A parent killed outright cannot stop the run: the kernel sends it SIGTERM instead,
        # so it still commits its work and is marked interrupted.
        process = children.spawn(
            context,
            target="balmon.scheduling.child:main",
            connection=theirs,
            args=(self._settings, day),
            death_signal=signal.SIGTERM,
            name=f"balmon-run-{day}",
            daemon=False,
        )
        process.start()  # on the loop's thread: the child's parent-death signal follows it
        theirs.close()
        log.info(
            "run process started", extra={"business_date": day.isoformat(), "pid": process.pid}
        )
        opened = asyncio.get_running_loop().create_future()
        return _Child(day, process, mine, opened)

    async def _supervise(self, child: _Child) -> Launch:
        ended: Launch | None = None
        while True:
            try:
                kind, launch = await asyncio.to_thread(child.connection.recv)
            except (EOFError, OSError):
                break
            if kind == "opened" and not child.opened.done():
                child.opened.set_result(launch)
            elif kind == "ended":
                ended = launch
        await asyncio.to_thread(child.process.join)
        child.connection.close()
        if ended is None:
            ended = await self._died(child)
        log.log(
            _LEVELS.get(ended.state, logging.INFO),
            "run process ended",
            extra={
                "business_date": child.day.isoformat(),
                "pid": child.process.pid,
                "exit_code": child.process.exitcode,
                "state": ended.state.value,
                "run_id": ended.run_id,
                "reason": ended.reason,
            },
        )
        return ended

    async def _died(self, child: _Child) -> Launch:
        """The child ended without saying how: its run failed, and is recorded so."""
        reason = f"the run process died ({_exit_of(child.process.exitcode)})"
        opened = child.opened.result() if child.opened.done() else None
        run_id = opened.run_id if opened and opened.state is LaunchState.RUNNING else None
        if run_id is not None and child.process.pid is not None:
            owner = Owner(self._host, child.process.pid)
            await asyncio.to_thread(self._mark_failed, child.day, run_id, owner, reason)
        return Launch(child.day, LaunchState.FAILED, run_id, reason)

    def _mark_failed(self, day: date, run_id: int, owner: Owner, reason: str) -> None:
        # Refused (the lease fence) when the date was taken over meanwhile: then it is not
        # ours to mark, and the new owner's record stands.
        with contextlib.suppress(Exception):
            close_run(
                self._engine,
                business_date=day,
                run_id=run_id,
                me=owner,
                status=RunStatus.FAILED,
                now=datetime.now(UTC),
                counts={},
                reason=reason,
            )


def _over(child: _Child) -> bool:
    return child.supervisor is not None and child.supervisor.done()


def _exit_of(code: int | None) -> str:
    if code is not None and code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
    return f"exit {code}"
