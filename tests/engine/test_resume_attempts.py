"""A resumed run never asks the bank again, or logs again, for attempts already logged
(issue 12, defect 3): a customer goes on at its next attempt, or ends with its last code when
its logged attempts used every retry."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine, func, insert, select

from balmon.engine import RunRequest, VerificationRun
from balmon.errors import TimeoutFailure
from balmon.storage.schema import error_logs, verification_results, verification_runs
from tests.conftest import on_backends
from tests.engine.fakes import ScriptedSource
from tests.engine.helpers import fast_settings, write_customers

DAY = date(2026, 11, 18)


def _died_after_some_attempts(engine: Engine) -> None:
    """The state a run killed mid-way leaves: X failed twice, Y four times (every retry
    spent), neither has a result yet."""
    at = datetime.now(UTC) - timedelta(hours=1)
    with engine.begin() as c:
        run_id = c.execute(
            insert(verification_runs).values(
                business_date=DAY, status="interrupted", started_at=at, reason="killed"
            )
        ).inserted_primary_key[0]
        for customer, attempts in (("X", 2), ("Y", 4)):
            for n in range(attempts):
                c.execute(
                    insert(error_logs).values(
                        run_id=run_id,
                        business_date=DAY,
                        customer_id=customer,
                        error_code="TIMEOUT",
                        error_message="no answer",
                        retry_count=n,
                        attempt=n,
                        logged_at=at + timedelta(seconds=n),
                    )
                )


@on_backends()
def test_a_resumed_customer_goes_on_at_its_next_attempt(engine: Engine, tmp_path: Path) -> None:
    _died_after_some_attempts(engine)
    path = write_customers(tmp_path / "c.csv", [("X", "1"), ("Y", "1"), ("Z", "1")])
    source = ScriptedSource({"Y": [TimeoutFailure("slow")]}, default=Decimal("5"))
    settings = fast_settings(engine.url.render_as_string(hide_password=False))
    run = VerificationRun(settings=settings, engine=engine, source=source)
    summary = asyncio.run(run.execute(RunRequest(DAY, "normal", path)))
    assert summary.resumed and summary.total == 3
    # X: one more request, its third attempt; Y: none (its four are spent); Z: its first.
    assert dict(source.calls) == {"X": 1, "Z": 1}
    with engine.connect() as c:
        results = {
            r.customer_id: (r.status, r.error_code, r.attempts)
            for r in c.execute(select(verification_results))
        }
        counted = select(error_logs.c.customer_id, func.count()).group_by(error_logs.c.customer_id)
        rows = {customer: int(n) for customer, n in c.execute(counted)}
    assert results == {
        "X": ("PASS", None, 3),
        "Y": ("UNAVAILABLE", "TIMEOUT", 4),
        "Z": ("PASS", None, 1),
    }
    assert rows == {"X": 2, "Y": 4}  # nothing logged twice
