"""Show a run's progress: a live bar on a terminal, a log line every few seconds otherwise."""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import TextIO

from balmon.clock import Clock
from balmon.engine.worker import Tally

log = logging.getLogger("balmon.engine")


class Progress:
    def __init__(
        self,
        *,
        tally: Tally,
        total: int | None,
        clock: Clock,
        stream: TextIO | None = None,
        interval: float | None = None,
    ) -> None:
        self._tally = tally
        self._total = total
        self._clock = clock
        self._stream = stream if stream is not None else sys.stdout
        self._tty = self._stream.isatty()
        self._interval = interval or (0.5 if self._tty else 10.0)
        self._started = clock.monotonic()

    def line(self) -> str:
        done, total = self._tally.done, self._total
        elapsed = max(self._clock.monotonic() - self._started, 1e-9)
        rate = done / elapsed
        text = f"{done:,}/{total:,}" if total else f"{done:,}"
        if total and done <= total:
            width = 30
            filled = int(width * done / total) if total else 0
            eta = (total - done) / rate if rate > 0 else 0.0
            text = f"[{'#' * filled}{'.' * (width - filled)}] {text}  ETA {eta:,.0f}s"
        line = f"{text}  {rate:,.0f}/s  errors {self._tally.failed_attempts:,}"
        return f"{line}  {self._tally.detail}" if self._tally.detail else line

    async def run(self) -> None:
        """Report until cancelled."""
        try:
            while True:
                await asyncio.sleep(self._interval)
                self._show()
        finally:
            if self._tty:
                self._stream.write("\r" + self.line() + "\n")
                self._stream.flush()

    def _show(self) -> None:
        if self._tty:
            self._stream.write("\r" + self.line())
            self._stream.flush()
        else:
            log.info("progress", extra={"progress": self.line()})
