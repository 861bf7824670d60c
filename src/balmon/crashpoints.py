"""Crash points: named places where the crash tests kill balmon as a power cut would.

Off unless the environment variable `BALMON_CRASH_AT` is `point:n`: then the process kills
itself with SIGKILL (nothing flushed, no handler run) the n-th time it passes `point`. The
points are where a crash leaves the most to put right, and `tests/integration/
test_crash_points.py` kills a real `balmon run` at each and checks that resuming it loses
nothing and doubles nothing. Unset, a point costs one comparison.
"""

from __future__ import annotations

import os
import signal
from enum import StrEnum

VARIABLE = "BALMON_CRASH_AT"


class Point(StrEnum):
    BEFORE_REQUEST = "before-request"  # an attempt about to ask the bank
    AFTER_RESPONSE = "after-response"  # an attempt's outcome known, not yet committed
    MID_COMMIT = "mid-commit"  # a batch's attempt rows written, its results not yet
    AFTER_COMMIT = "after-commit"  # a batch committed, the writer not yet told
    DELIVERING_ALERT = "delivering-alert"  # an alert message sent, its delivery not recorded


def _armed(value: str | None) -> tuple[str, int] | None:
    """The armed point and pass; None (off) for anything else, so a stray value can never
    stop a command with a traceback (a crash test that expected its kill fails instead)."""
    point, _, count = (value or "").partition(":")
    try:
        return Point(point).value, int(count or "1")
    except ValueError:
        return None


_ARMED = _armed(os.environ.get(VARIABLE))
_passed = 0


def reach(point: Point) -> None:
    """Die here if this is the armed point's n-th pass."""
    global _passed
    if _ARMED is None or _ARMED[0] != point:
        return
    _passed += 1
    if _passed == _ARMED[1]:
        os.kill(os.getpid(), signal.SIGKILL)
