"""What starting a business date's run came to: a value the launcher, the scheduler, the
dashboard and the run process itself all speak."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class LaunchState(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    ALREADY_COMPLETED = "already completed"
    REFUSED = "refused"
    MOVED = "moved"  # another process took the run over and runs it: not failed
    FAILED = "failed"
    INTERRUPTED = "interrupted"


@dataclass(frozen=True, slots=True)
class Launch:
    business_date: date
    state: LaunchState
    run_id: int | None = None
    reason: str | None = None

    def describe(self) -> str:
        run = f" (run {self.run_id})" if self.run_id is not None else ""
        why = f": {self.reason}" if self.reason else ""
        return f"run for {self.business_date} {self.state.value}{run}{why}"
