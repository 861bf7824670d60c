"""A run process's last word when its database stops answering.

The server's own limits (`database.statement_timeout_seconds`, the lock timeout) end a slow
statement with an error, but a server that stops answering altogether (its processes frozen,
its host hung with the connection still up) ends nothing, and the driver waits on the socket
for ever. A watch thread, which needs neither the event loop nor the database, notices a call
that has waited past the limit and ends the process with one line and exit 1. What the run
committed stays committed, the lease names a dead pid, and the next start resumes the run.

Every statement, COMMIT and ROLLBACK that goes through an engine's dialect is timed; work that
goes to the driver directly (PostgreSQL's COPY) says so with `waiting()`.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import Engine

# The dialect's calls that wait on the server (the pool's pre-ping and new connections too).
_WAITING_CALLS = (
    "connect",
    "do_ping",
    "do_execute",
    "do_executemany",
    "do_execute_no_params",
    "do_commit",
    "do_rollback",
)


class DatabaseWatch:
    """Ends the process when one database call has been waiting longer than `limit` seconds."""

    def __init__(
        self,
        limit: float,
        *,
        exit: Callable[[int], Any] = os._exit,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self._exit = exit
        self._clock = clock
        self._calls: dict[int, float] = {}
        self._ids = itertools.count()
        self._lock = threading.Lock()
        self._stop = threading.Event()

    @contextlib.contextmanager
    def waiting(self) -> Iterator[None]:
        call = next(self._ids)
        with self._lock:
            self._calls[call] = self._clock()
        try:
            yield
        finally:
            with self._lock:
                del self._calls[call]

    def watch(self, engine: Engine) -> None:
        """Time every call `engine`'s dialect makes to the server."""
        dialect = engine.dialect
        for name in _WAITING_CALLS:
            # The dialect is the engine's own instance: wrapping its methods touches no
            # other engine.
            setattr(dialect, name, self._timed(getattr(dialect, name)))

    def _timed(self, call: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            with self.waiting():
                return call(*args, **kwargs)

        return timed

    def longest_wait(self) -> float:
        with self._lock:
            oldest = min(self._calls.values(), default=None)
        return 0.0 if oldest is None else self._clock() - oldest

    def check(self) -> bool:
        """End the process (one line, exit 1) if a call has waited past the limit."""
        waited = self.longest_wait()
        if waited <= self.limit:
            return False
        line = (
            f"balmon: database unavailable: no answer for {waited:.0f}s "
            f"(limit {self.limit:g}s); the run resumes where it stopped when started again\n"
        )
        with contextlib.suppress(OSError):
            os.write(2, line.encode())  # not logging: its lock may be held by the stuck thread
        self._exit(1)
        return True

    def start(self) -> None:
        interval = min(1.0, self.limit / 10)

        def patrol() -> None:
            while not self._stop.wait(interval):
                if self.check():
                    return

        threading.Thread(target=patrol, name="balmon-database-watch", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        with contextlib.suppress(ValueError):
            _installed.remove(self)


_installed: list[DatabaseWatch] = []


def limit_for(statement_timeout: float) -> float:
    """How long a call may wait before the server counts as gone: its own statement limit,
    then as long again (at most a minute) for the error to come back."""
    return statement_timeout + min(60.0, statement_timeout)


def install(engine: Engine, statement_timeout: float) -> DatabaseWatch | None:
    """Watch `engine` in this process (a run's); nothing when statements have no limit."""
    if not statement_timeout:
        return None
    watch = DatabaseWatch(limit_for(statement_timeout))
    watch.watch(engine)
    watch.start()
    _installed.append(watch)
    return watch


def waiting() -> contextlib.AbstractContextManager[None]:
    """Around a call to the driver that bypasses the dialect, in a watched process."""
    return _installed[-1].waiting() if _installed else contextlib.nullcontext()
