"""Clean stop: SIGTERM and SIGINT become one orderly shutdown, bounded by a grace period.

The first signal calls the command's `stop` (cancel the run, tell uvicorn to exit) and arms a
watchdog: if the process has not exited `grace` seconds later it exits anyway with the same
code, so systemd or Kubernetes never has to escalate to SIGKILL. Exit codes follow the shell's
convention, 128 + the signal number: 143 for SIGTERM, 130 for SIGINT.

The signal is taken by a Python signal handler, not by the event loop: a loop blocked in a
database call (a frozen server, a lock another session holds) would never run its own handler,
and the watchdog would never start. Python runs the handler while the main thread waits in the
driver (psycopg and PyMySQL both check for signals as they wait), so the watchdog is armed at
once whatever the loop and the database are doing.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
from collections.abc import Callable
from typing import Any

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Shutdown:
    """Turns the first SIGTERM or SIGINT into `stop()`; remembers which signal it was."""

    def __init__(self, *, grace: float, stop: Callable[[], Any]) -> None:
        self._grace = grace
        self._stop = stop
        self.signal: signal.Signals | None = None

    def install(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Take the signals (from the main thread); `stop` runs on `loop` (the running loop
        by default)."""
        loop = loop or asyncio.get_running_loop()

        def handle(signum: int, _frame: object) -> None:
            if self._arm(signal.Signals(signum)):
                loop.call_soon_threadsafe(self._stop)

        for signum in SIGNALS:
            signal.signal(signum, handle)

    def trigger(self, signum: signal.Signals) -> None:
        """The first signal's stop, from the loop's own thread."""
        if self._arm(signum):
            self._stop()

    def _arm(self, signum: signal.Signals) -> bool:
        if self.signal is not None:
            return False  # the watchdog bounds the stop already under way
        self.signal = signum
        watchdog = threading.Timer(self._grace, self._exit)
        watchdog.daemon = True
        watchdog.start()
        return True

    def _exit(self) -> None:
        # One line for the operator, straight to stderr: the logging lock may be held by the
        # very thread that is stuck.
        line = f"balmon: not stopped {self._grace:g}s after {self.name}; exiting\n"
        with contextlib.suppress(OSError):
            os.write(2, line.encode())
        os._exit(self.exit_code)

    @property
    def requested(self) -> bool:
        return self.signal is not None

    @property
    def exit_code(self) -> int:
        return 128 + int(self.signal) if self.signal is not None else 0

    @property
    def name(self) -> str:
        return self.signal.name if self.signal is not None else ""
