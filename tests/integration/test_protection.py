"""Protecting the bank: the circuit breaker, the outage cut-off and the rate cap."""

from __future__ import annotations

import asyncio
import time
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from balmon.engine import RunRequest, RunSummary, VerificationRun
from balmon.source import HttpBalanceSource
from balmon.storage.schema import alerts, error_logs, verification_results
from tests.engine.helpers import fast_settings, write_customers
from tests.integration.conftest import start_simulator

DAY = date(2026, 11, 25)


def _run(
    db: Engine, tmp_path: Path, faults: dict[str, str], count: int, **sections: dict[str, Any]
) -> tuple[RunSummary, int]:
    ids = [f"B{i:04d}" for i in range(count)]
    customers = write_customers(tmp_path / "c.csv", [(cid, "0") for cid in ids])
    fault_file = tmp_path / "f.csv"
    fault_file.write_text("".join(f"{cid},{fault}\n" for cid, fault in faults.items()))
    simulator = start_simulator(customers, fault_file)
    try:
        settings = fast_settings(
            str(db.url), source={"url": simulator.url, **sections.pop("source", {})}, **sections
        )

        async def go() -> RunSummary:
            source = HttpBalanceSource(
                settings=settings.source, concurrency=settings.engine.concurrency
            )
            try:
                return await VerificationRun(settings=settings, engine=db, source=source).execute(
                    RunRequest(DAY, customers_file=customers)
                )
            finally:
                await source.aclose()

        return asyncio.run(go()), simulator.state.total_requests
    finally:
        simulator.stop()


def test_an_outage_opens_the_breaker_and_ends_the_run_in_bounded_time(
    engine: Engine, tmp_path: Path
) -> None:
    count = 400
    faults = {f"B{i:04d}": "status:500" for i in range(count)}
    started = time.monotonic()
    summary, requests = _run(
        engine,
        tmp_path,
        faults,
        count,
        source={"breaker_window": 10, "outage_timeout_seconds": 0.6},
        engine={"concurrency": 4},
    )
    assert time.monotonic() - started < 20
    with engine.connect() as c:
        by_code = dict(
            c.execute(
                select(verification_results.c.error_code, func.count()).group_by(
                    verification_results.c.error_code
                )
            ).all()
        )
        skipped = c.execute(
            select(error_logs).where(error_logs.c.error_code == "SOURCE_UNAVAILABLE")
        ).all()
        alert_codes = set(c.scalars(select(alerts.c.error_code)))
    assert summary.total == count and summary.unavailable == count
    assert by_code["SOURCE_UNAVAILABLE"] > count // 2
    assert by_code["SOURCE_UNAVAILABLE"] + by_code["API_ERROR"] == count
    # Customers never attempted cost the bank nothing; each still has one error-log row.
    assert requests < count
    assert len(skipped) == by_code["SOURCE_UNAVAILABLE"]
    assert all(row.retry_count == 0 and "not attempted" in row.error_message for row in skipped)
    assert alert_codes == {"API_ERROR", "SOURCE_UNAVAILABLE"}


def test_a_successful_probe_closes_the_breaker_and_the_run_goes_on(
    engine: Engine, tmp_path: Path
) -> None:
    count = 200
    faults = {f"B{i:04d}": "status:500" for i in range(12)}
    summary, _ = _run(
        engine,
        tmp_path,
        faults,
        count,
        source={"breaker_window": 10, "outage_timeout_seconds": 30},
        retry={"max_retries": 0, "delays_seconds": [0.05]},
        engine={"concurrency": 1},
    )
    assert summary.passed == count - 12
    assert summary.by_code == {"API_ERROR": 12}


def test_the_request_rate_is_capped(engine: Engine, tmp_path: Path) -> None:
    started = time.monotonic()
    summary, requests = _run(
        engine, tmp_path, {}, 40, source={"max_requests_per_second": 50}, engine={"concurrency": 20}
    )
    elapsed = time.monotonic() - started
    assert summary.passed == 40 and requests == 40
    # 40 requests evenly spaced at 50/s need at least 39 intervals of 20 ms.
    assert elapsed >= 0.78
