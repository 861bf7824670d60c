"""Clean stop: SIGTERM and SIGINT become one orderly shutdown, bounded by a grace period.

The first signal calls the command's `stop` (cancel the run, tell uvicorn to exit) and arms a
watchdog: if the process has not exited `grace` seconds later it exits anyway with the same
code, so systemd or Kubernetes never has to escalate to SIGKILL. Exit codes follow the shell's
convention, 128 + the signal number: 143 for SIGTERM, 130 for SIGINT.
"""

from __future__ import annotations

import asyncio
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
        """Handle the signals on `loop` (the running loop by default)."""
        loop = loop or asyncio.get_running_loop()
        for signum in SIGNALS:
            loop.add_signal_handler(signum, self.trigger, signum)

    def trigger(self, signum: signal.Signals) -> None:
        if self.signal is not None:
            return  # the watchdog bounds the stop already under way
        self.signal = signum
        watchdog = threading.Timer(self._grace, os._exit, args=(self.exit_code,))
        watchdog.daemon = True
        watchdog.start()
        self._stop()

    @property
    def requested(self) -> bool:
        return self.signal is not None

    @property
    def exit_code(self) -> int:
        return 128 + int(self.signal) if self.signal is not None else 0

    @property
    def name(self) -> str:
        return self.signal.name if self.signal is not None else ""
