"""Every fault the bank can show, end to end: simulator → engine → database."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from balmon.engine import RunRequest, RunSummary, VerificationRun
from balmon.source import HttpBalanceSource
from balmon.storage.schema import alerts, error_logs, verification_results
from tests.conftest import on_backends
from tests.engine.helpers import fast_settings, write_customers
from tests.integration.conftest import start_simulator

DAY = date(2026, 11, 26)

# fault → (status, final code, attempts, codes of the failed attempts)
EXPECTED: dict[str, tuple[str, str | None, int, list[str]]] = {
    "timeout": ("UNAVAILABLE", "TIMEOUT", 4, ["TIMEOUT"] * 4),
    "trickle": ("UNAVAILABLE", "TIMEOUT", 4, ["TIMEOUT"] * 4),
    "reset": ("UNAVAILABLE", "NETWORK_ERROR", 4, ["NETWORK_ERROR"] * 4),
    "status:500": ("UNAVAILABLE", "API_ERROR", 4, ["API_ERROR"] * 4),
    # Retry-After: 1 exceeds the (scaled) 0.35 s budget, so the customer gives up at once.
    "status:429": ("UNAVAILABLE", "API_ERROR", 1, ["API_ERROR"]),
    "missing": ("UNAVAILABLE", "MISSING_DATA", 4, ["MISSING_DATA"] * 4),
    "malformed": ("UNAVAILABLE", "INVALID_RESPONSE", 4, ["INVALID_RESPONSE"] * 4),
    "html": ("UNAVAILABLE", "INVALID_RESPONSE", 4, ["INVALID_RESPONSE"] * 4),
    "wrong-id": ("UNAVAILABLE", "INVALID_RESPONSE", 4, ["INVALID_RESPONSE"] * 4),
    "null": ("UNAVAILABLE", "NULL_BALANCE", 1, ["NULL_BALANCE"]),
    "negative": ("UNAVAILABLE", "NEGATIVE_BALANCE", 1, ["NEGATIVE_BALANCE"]),
    "flaky:2": ("PASS", None, 3, ["API_ERROR", "API_ERROR"]),
    "slow:0.05": ("PASS", None, 1, []),
    "slow:1": ("UNAVAILABLE", "TIMEOUT", 4, ["TIMEOUT"] * 4),
}


def _cid(fault: str) -> str:
    return "F-" + fault.replace(":", "-").replace(".", "_")


def _run(engine: Engine, tmp_path: Path) -> tuple[RunSummary, dict[str, int]]:
    customers = write_customers(
        tmp_path / "c.csv", [(_cid(f), "0") for f in EXPECTED] + [("OK", "0")]
    )
    faults = tmp_path / "faults.csv"
    faults.write_text("customer_id,fault\n" + "".join(f"{_cid(f)},{f}\n" for f in EXPECTED))
    simulator = start_simulator(customers, faults)
    try:
        settings = fast_settings(
            str(engine.url), source={"url": simulator.url, "timeout_seconds": 0.6}
        )

        async def go() -> RunSummary:
            source = HttpBalanceSource(
                settings=settings.source, concurrency=settings.engine.concurrency
            )
            try:
                run = VerificationRun(settings=settings, engine=engine, source=source)
                return await run.execute(RunRequest(DAY, customers_file=customers))
            finally:
                await source.aclose()

        return asyncio.run(go()), dict(simulator.state.requests)
    finally:
        simulator.stop()


@on_backends()
@pytest.mark.slow
def test_each_fault_kind_ends_with_the_right_result_code_and_log(
    engine: Engine, tmp_path: Path
) -> None:
    summary, requests = _run(engine, tmp_path)
    with engine.connect() as c:
        results = {r.customer_id: r for r in c.execute(select(verification_results))}
        logs = c.execute(select(error_logs).order_by(error_logs.c.id)).all()
        alerted = {(a.customer_id, a.error_code) for a in c.execute(select(alerts))}
    assert results["OK"].status == "PASS"
    for fault, (status, code, attempts, codes) in EXPECTED.items():
        cid = _cid(fault)
        row = results[cid]
        assert (row.status, row.error_code, row.attempts) == (status, code, attempts), fault
        mine = [log for log in logs if log.customer_id == cid]
        assert [log.error_code for log in mine] == codes, fault
        assert [log.retry_count for log in mine] == list(range(len(codes))), fault
        assert all(log.run_id == summary.run_id and log.error_message for log in mine), fault
        # The bank saw one request per attempt; a request its reset dropped on a kept-alive
        # connection goes once more on a new one, uncounted: a dead pooled connection looks
        # the same (RFC 9112 9.3.1), and its request never reached the bank.
        if fault == "reset":
            assert attempts <= requests[cid] <= 2 * attempts, fault
        else:
            assert requests[cid] == attempts, fault
        assert ((cid, code) in alerted) == (status == "UNAVAILABLE"), fault
    invalid = [log for log in logs if log.error_code == "INVALID_RESPONSE"]
    assert invalid and all(log.stack_trace for log in invalid)
    assert all(len(log.error_message) <= 500 for log in logs)
    assert summary.total == len(EXPECTED) + 1
    assert summary.unavailable == sum(1 for s, *_ in EXPECTED.values() if s == "UNAVAILABLE")


def test_no_balance_or_body_leaks_into_the_error_log(engine: Engine, tmp_path: Path) -> None:
    _run(engine, tmp_path)
    with engine.connect() as c:
        texts = [f"{r.error_message} {r.stack_trace or ''}" for r in c.execute(select(error_logs))]
    assert texts
    assert not any("<html>" in t or '"balance"' in t or "currency" in t for t in texts)
