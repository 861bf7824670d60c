"""The simulator's fault plans and populations (its HTTP behaviour is tested end to end)."""

from __future__ import annotations

import csv
import logging
import time
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest

from balmon.banksim import (
    Fault,
    FaultPlan,
    Population,
    config_from_options,
    parse_fault,
    read_faults,
    running_simulator,
    write_customers_csv,
)


def test_fault_specs_parse_and_bad_ones_say_why() -> None:
    assert parse_fault("timeout") == Fault("timeout")
    assert parse_fault(" status:503 ") == Fault("status", 503.0)
    assert parse_fault("flaky:2") == Fault("flaky", 2.0)
    for bad, reason in [
        ("boom", "unknown"),
        ("status:99", "range"),
        ("slow:x", "not a number"),
        ("null:1", "unknown"),
    ]:
        with pytest.raises(ValueError, match=reason):
            parse_fault(bad)


def test_a_faults_file_names_its_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "faults.csv"
    path.write_text("customer_id,fault\n# comment\n\nC1,null\nC2 , slow:0.5\n")
    assert read_faults(path) == {"C1": Fault("null"), "C2": Fault("slow", 0.5)}
    path.write_text("C1,null\nC2,boom\n")
    with pytest.raises(ValueError, match="line 2"):
        read_faults(path)


def test_a_fault_rate_is_deterministic_roughly_respected_and_overridable() -> None:
    ids = [f"C{i:07d}" for i in range(1, 20_001)]
    plan = FaultPlan({"C0000001": Fault("negative")}, 0.1, seed=7)
    faulty = plan.faulty(ids)
    assert faulty == FaultPlan({"C0000001": Fault("negative")}, 0.1, seed=7).faulty(ids)
    assert 1_800 < len(faulty) < 2_200
    assert faulty["C0000001"] == Fault("negative")
    assert len({f.kind for f in faulty.values()}) >= 10
    assert FaultPlan({}, 0.0, seed=7).faulty(ids) == {}
    with pytest.raises(ValueError, match="between 0 and 1"):
        FaultPlan({}, 1.5, seed=7)


def test_generated_population_needs_no_list_and_balances_are_stable_cents() -> None:
    population = Population(generated=1_000_000)
    assert "C0000001" in population and "C1000000" in population
    assert (
        "C1000001" not in population
        and "C0000000" not in population
        and "X0000001" not in population
        and "C000000²" not in population  # a digit to str.isdigit, not to int: was a 500
    )
    balance = population.balance("C0000042")
    assert balance == population.balance("C0000042") and Decimal(0) <= balance < Decimal(100_000)
    assert balance.as_tuple().exponent == -2


def test_the_customer_file_matches_the_population(tmp_path: Path) -> None:
    path = write_customers_csv(tmp_path / "c.csv", 500)
    with path.open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["customer_id"] for r in rows] == [f"C{i:07d}" for i in range(1, 501)]
    assert {r["min_balance"] for r in rows} >= {"", "100.00", "1000000.00"}
    assert all(r["customer_id"] in Population.from_file(path) for r in rows[:10])


async def test_latency_delays_every_answer_by_that_long() -> None:
    """`--latency`: the bank's own response time, for the backoff benchmark."""
    config = config_from_options(
        customers_file=None, generate=3, faults_file=None, fault_rate=0.0, latency=0.2
    )
    async with running_simulator(config) as bank, aiohttp.ClientSession() as session:
        started = time.monotonic()
        async with session.get(f"{bank.url}/customers/C0000001/balance") as response:
            assert response.status == 200
        assert time.monotonic() - started >= 0.2


def test_latency_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="--latency"):
        config_from_options(
            customers_file=None, generate=3, faults_file=None, fault_rate=0.0, latency=-1
        )


def test_deliberate_resets_are_not_logged_as_errors_of_balmon(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The demo's bank resets connections on purpose: an expected fault, not an ERROR (the
    demo's log once held a traceback for each)."""
    import urllib.request

    from balmon.banksim import SimulatorThread, config_from_options

    customers = tmp_path / "c.csv"
    customers.write_text("customer_id,min_balance\n" + "".join(f"R{i},0\n" for i in range(20)))
    faults = tmp_path / "f.csv"
    faults.write_text("".join(f"R{i},reset\n" for i in range(20)))
    config = config_from_options(
        customers_file=customers,
        generate=None,
        faults_file=faults,
        fault_rate=0.0,
        trickle_interval=0.05,
    )
    simulator = SimulatorThread(config).start()
    failures = 0
    with caplog.at_level(logging.DEBUG):
        try:
            for i in range(20):
                try:
                    urllib.request.urlopen(f"{simulator.url}/customers/R{i}/balance", timeout=5)
                except OSError:
                    failures += 1
        finally:
            simulator.stop()
    assert failures == 20
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
