"""The data-quality rules end to end: the simulator answers well-formed and wrong, the run
judges, and the database, the work queue and the outbox show it (issue 23)."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from balmon.alerts import AlertPipeline
from balmon.banksim.population import Population
from balmon.clock import SystemClock
from balmon.config import Settings
from balmon.engine import RunRequest, RunSummary, VerificationRun
from balmon.quality import DayChecks
from balmon.source import HttpBalanceSource
from balmon.storage.schema import (
    alert_messages,
    alerts,
    error_logs,
    quality_alarms,
    verification_results,
)
from balmon.triage.cases import CaseFilter, list_cases
from tests.conftest import on_backends
from tests.engine.helpers import fast_settings
from tests.integration.conftest import start_simulator

DAY = date(2026, 11, 2)


def _customers(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.write_text(
        "customer_id,min_balance\n" + "".join(f"{cid},{mb}\n" for cid, mb in rows),
        encoding="utf-8",
    )
    return path


def _run(
    engine: Engine,
    tmp_path: Path,
    day: date,
    rows: list[tuple[str, str]],
    faults: dict[str, str],
    **sections: dict[str, Any],
) -> tuple[RunSummary, dict[str, int]]:
    """One date, against a simulator with `faults`, with the day rules and alerts on."""
    customers = _customers(tmp_path / f"c-{day}.csv", rows)
    fault_file = tmp_path / f"f-{day}.csv"
    fault_file.write_text("".join(f"{cid},{fault}\n" for cid, fault in faults.items()))
    simulator = start_simulator(customers, fault_file)
    try:
        settings = fast_settings(
            str(engine.url),
            source={"url": simulator.url},
            alerts={
                "urls": ["json://127.0.0.1:9/"],
                "group_wait_seconds": 0.0,
                "summary": True,
                "delivery_attempts": 1,
            },
            **sections,
        )
        return asyncio.run(_verify(settings, engine, day, customers)), dict(
            simulator.state.requests
        )
    finally:
        simulator.stop()


async def _verify(settings: Settings, engine: Engine, day: date, path: Path) -> RunSummary:
    source = HttpBalanceSource(settings=settings.source, concurrency=settings.engine.concurrency)
    clock = SystemClock()
    try:
        run = VerificationRun(
            settings=settings,
            engine=engine,
            source=source,
            alerts=AlertPipeline(engine=engine, settings=settings.alerts, clock=clock),
            day_checks=DayChecks(engine=engine, settings=settings, clock=clock),
        )
        return await run.execute(RunRequest(day, customers_file=path))
    finally:
        await source.aclose()


def _results(engine: Engine, day: date) -> dict[str, Any]:
    r = verification_results.c
    with engine.connect() as c:
        return {
            row.customer_id: row
            for row in c.execute(select(verification_results).where(r.business_date == day))
        }


def _small_balance_ids(count: int) -> list[str]:
    """Customers whose simulated balance is under 10,000 (the default jump_min_change)."""
    found = []
    for n in range(1, 1000):
        cid = f"SMALL{n}"
        if Population(ids=frozenset({cid})).balance(cid) < Decimal(5000):
            found.append(cid)
        if len(found) == count:
            return found
    raise AssertionError("no small balances")


@on_backends()
@pytest.mark.slow
def test_stale_and_wrong_currency_are_unavailable_and_jumps_open_cases(
    engine: Engine, tmp_path: Path
) -> None:
    small = _small_balance_ids(1)[0]
    rows = [("OK", "0"), ("STALE", "0"), ("EURO", "0"), ("UP", "0"), ("DOWN", "0"), (small, "0")]
    quality = {"verification": {"currency": "USD"}}
    # The day before: DOWN is a thousand times its usual balance; SMALL has nothing.
    _run(
        engine, tmp_path, DAY - timedelta(days=1), rows, {"DOWN": "jump", small: "zero"}, **quality
    )
    summary, requests = _run(
        engine, tmp_path, DAY, rows, {"STALE": "stale", "EURO": "currency", "UP": "jump"}, **quality
    )
    results = _results(engine, DAY)
    assert (results["STALE"].status, results["STALE"].error_code) == (
        "UNAVAILABLE",
        "STALE_BALANCE",
    )
    assert (results["EURO"].status, results["EURO"].error_code) == (
        "UNAVAILABLE",
        "CURRENCY_MISMATCH",
    )
    assert requests["STALE"] == 1 and requests["EURO"] == 1  # rejected, never retried
    for cid in ("OK", "UP", "DOWN", small):
        assert results[cid].status == "PASS" and results[cid].error_code is None, cid
        assert results[cid].currency == "USD", cid  # kept beside the balance (issue 22)
    assert summary.unavailable == 2 and summary.passed == 4
    with engine.connect() as c:
        jumps, total = list_cases(c, CaseFilter(day=DAY, code="BALANCE_JUMP"))
        logged = c.execute(
            select(error_logs.c.customer_id, error_logs.c.error_code).where(
                error_logs.c.business_date == DAY
            )
        ).all()
        alerted = set(
            c.execute(
                select(alerts.c.customer_id, alerts.c.error_code).where(
                    alerts.c.business_date == DAY
                )
            ).all()
        )
    assert total == 2 and {case["customer_id"] for case in jumps} == {"UP", "DOWN"}
    assert all(case["resolved"] is False for case in jumps)
    assert sorted(logged) == sorted(
        [
            ("DOWN", "BALANCE_JUMP"),
            ("EURO", "CURRENCY_MISMATCH"),
            ("STALE", "STALE_BALANCE"),
            ("UP", "BALANCE_JUMP"),
        ]
    )
    assert ("UP", "BALANCE_JUMP") in alerted and ("DOWN", "BALANCE_JUMP") in alerted
    assert not any(cid == small for cid, _ in alerted)


@on_backends()
@pytest.mark.slow
def test_a_stale_feed_is_one_alarm_and_at_most_three_messages(
    engine: Engine, tmp_path: Path
) -> None:
    rows = [(f"C{n:03d}", "0") for n in range(100)]
    fresh = {f"C{n:03d}": "slow:0" for n in range(10)}  # the ten the stale feed spares
    summary, _ = _run(engine, tmp_path, DAY, rows, {"*": "stale_feed", **fresh})
    assert summary.unavailable == 90 and summary.passed == 10
    with engine.connect() as c:
        alarms = c.execute(select(quality_alarms)).all()
        messages = c.execute(select(alert_messages.c.kind, alert_messages.c.error_code)).all()
        unsent = c.scalar(select(func.count()).where(alerts.c.message_id.is_(None)))
    assert [(a.business_date, a.code, a.folded) for a in alarms] == [(DAY, "STALE_FEED", 90)]
    assert "90 of 100" in alarms[0].detail
    assert len(messages) <= 3, messages
    assert ("alarm", "STALE_FEED") in messages
    assert ("group", "STALE_BALANCE") not in messages  # folded into the alarm
    assert unsent == 0


@on_backends()
@pytest.mark.slow
def test_twenty_times_the_fails_is_one_fail_spike_and_an_ordinary_date_none(
    engine: Engine, tmp_path: Path
) -> None:
    rows = [(f"C{n:03d}", "1") for n in range(50)]
    ordinary = {"C000": "zero", "C001": "zero"}  # two FAILs a day
    for n in range(5):
        _run(engine, tmp_path, DAY + timedelta(days=n), rows, ordinary)
    spike = {f"C{n:03d}": "zero" for n in range(40)}  # twenty times as many
    _run(engine, tmp_path, DAY + timedelta(days=5), rows, spike)
    _run(engine, tmp_path, DAY + timedelta(days=6), rows, ordinary)
    with engine.connect() as c:
        alarms = c.execute(select(quality_alarms.c.business_date, quality_alarms.c.code)).all()
    assert alarms == [(DAY + timedelta(days=5), "FAIL_SPIKE")]
