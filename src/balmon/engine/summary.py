"""A run's summary, computed from the database so it is right after a resume too."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine, func, select

from balmon.engine import results
from balmon.errors import ErrorCode
from balmon.storage.schema import alerts, verification_runs


@dataclass(frozen=True, slots=True)
class RunSummary:
    run_id: int
    business_date: date
    kind: str
    status: str
    total: int
    passed: int
    failed: int
    unavailable: int
    invalid_input: int
    failed_attempts: int
    retries: int
    by_code: dict[str, int]
    errors_by_code: dict[str, int]
    alerts_raised: int
    duration_seconds: float
    resumed: bool = False
    already_completed: bool = False
    alerts_delivery: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.total / self.duration_seconds if self.duration_seconds > 0 else 0.0

    def counts(self) -> dict[str, int]:
        """The count columns of `verification_runs`."""
        return {
            "total": self.total,
            "pass_count": self.passed,
            "fail_count": self.failed,
            "unavailable_count": self.unavailable,
            "invalid_input_count": self.invalid_input,
            "error_count": self.failed_attempts,
            "retry_count": self.retries,
        }

    def to_json(self) -> str:
        data: dict[str, Any] = asdict(self)
        data["business_date"] = self.business_date.isoformat()
        data["pass"] = data.pop("passed")
        data["fail"] = data.pop("failed")
        data["customers_per_second"] = round(self.rate, 1)
        data["duration_seconds"] = round(self.duration_seconds, 3)
        return json.dumps(data, sort_keys=True)


def summarize(
    engine: Engine, run_id: int, *, finished_at: datetime | None = None, resumed: bool = False
) -> RunSummary:
    """Build the summary of `run_id` from its rows."""
    with engine.connect() as c:
        run = c.execute(select(verification_runs).where(verification_runs.c.id == run_id)).one()
        outcomes = results.of_run(c, run_id)
        errors = results.errors_by_code(c, run_id=run_id)
        retries = results.retries_of_run(c, run_id)
        alerts_raised = c.scalar(select(func.count()).where(alerts.c.run_id == run_id))
    end = finished_at or run.finished_at or run.heartbeat_at or run.started_at
    invalid = errors.get(ErrorCode.INVALID_INPUT.value, 0)
    return RunSummary(
        run_id=run_id,
        business_date=run.business_date,
        kind=run.kind,
        status=run.status,
        total=outcomes.total,
        passed=outcomes.passed,
        failed=outcomes.failed,
        unavailable=outcomes.unavailable,
        invalid_input=invalid,
        failed_attempts=sum(errors.values()) - invalid,
        retries=retries,
        by_code=outcomes.unavailable_by_code,
        errors_by_code=errors,
        alerts_raised=int(alerts_raised or 0),
        duration_seconds=max((end - run.started_at).total_seconds(), 0.0),
        resumed=resumed,
    )


def render(summary: RunSummary) -> str:
    """The human-readable summary printed at the end of `balmon run`."""
    head = "already completed: " if summary.already_completed else ""
    lines = [
        f"{head}run {summary.run_id} for {summary.business_date} ({summary.kind}): {summary.status}"
        + (" (resumed)" if summary.resumed else ""),
        f"  customers    {summary.total:>10,}   PASS {summary.passed:,}   FAIL {summary.failed:,}"
        f"   UNAVAILABLE {summary.unavailable:,}",
        f"  bad rows     {summary.invalid_input:>10,}   (INVALID_INPUT, see the error log)",
        f"  failed tries {summary.failed_attempts:>10,}   retries {summary.retries:,}",
        f"  alerts       {summary.alerts_raised:>10,}"
        + "".join(f"   {k} {v}" for k, v in sorted(summary.alerts_delivery.items())),
        f"  duration     {summary.duration_seconds:>10.1f}s  ({summary.rate:,.0f} customers/s)",
    ]
    if summary.by_code:
        lines.append("  UNAVAILABLE by final code:")
        lines += [f"    {code:<20} {count:>8,}" for code, count in sorted(summary.by_code.items())]
    return "\n".join(lines)
