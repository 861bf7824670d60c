"""Child processes that never outlive the process that started them.

A spawned child spends its first second importing and unpickling (pydantic, SQLAlchemy, the
settings) before its own code runs. Its parent-death signal (Linux's PR_SET_PDEATHSIG), set
there, left a window: a parent SIGKILLed meanwhile left children running on their own (2 of
10 kills in a probe). So the child's first code is this module's, which imports nothing but
the standard library: it asks for the signal, then checks that its parent is still the one
that started it (a parent that died before the signal was asked for never sends it), and only
then unpickles its arguments and imports its real entry point.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import os
import pickle
import signal
import sys
from multiprocessing.context import SpawnContext, SpawnProcess
from typing import Any

_PR_SET_PDEATHSIG = 1


def spawn(
    context: SpawnContext,
    *,
    target: str,
    connection: Any,
    args: tuple[Any, ...],
    death_signal: signal.Signals,
    name: str,
    daemon: bool,
) -> SpawnProcess:
    """A process (not started) that runs `target` ("module:function") with `connection` and
    `args`, and receives `death_signal` when this process's starting thread ends."""
    payload = pickle.dumps(args)
    return context.Process(
        target=_start,
        args=(os.getpid(), int(death_signal), target, connection, payload),
        name=name,
        daemon=daemon,
    )


def follow_parent(death_signal: int) -> None:
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, death_signal)


def _start(parent: int, death_signal: int, target: str, connection: Any, payload: bytes) -> None:
    follow_parent(death_signal)
    if os.getppid() != parent:
        os._exit(1)  # the parent died before we could follow it: nobody wants our work
    module, _, function = target.partition(":")
    main = getattr(importlib.import_module(module), function)
    # The payload is our own parent's, handed over its pipe: not foreign data.
    main(connection, *pickle.loads(payload))  # noqa: S301
