"""Engine logic with a scripted in-memory source: outcomes, retries, resilience, bookkeeping."""

from __future__ import annotations

import asyncio
import itertools
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, update

from balmon.engine import RunRequest, RunSummary, VerificationRun
from balmon.errors import (
    ApiFailure,
    ConfigError,
    CustomerFileError,
    LeaseLost,
    MissingData,
    TimeoutFailure,
)
from balmon.source import Reading
from balmon.storage.schema import (
    alerts,
    error_logs,
    run_leases,
    verification_results,
    verification_runs,
)
from tests.conftest import on_backends
from tests.engine.fakes import NULL, ScriptedSource
from tests.engine.helpers import fast_settings, write_customers

DAY = date(2026, 11, 27)


def _run(db: Engine, path: Path, source: ScriptedSource, **sections: dict[str, Any]) -> RunSummary:
    settings = fast_settings(str(db.url), **sections)
    run = VerificationRun(settings=settings, engine=db, source=source)
    return asyncio.run(run.execute(RunRequest(DAY, customers_file=path)))


def _results(engine: Engine) -> dict[str, tuple[str, str | None, int]]:
    with engine.connect() as c:
        rows = c.execute(select(verification_results)).all()
    return {r.customer_id: (r.status, r.error_code, r.attempts) for r in rows}


def _errors(engine: Engine, customer: str) -> list[tuple[str, int]]:
    query = select(error_logs.c.error_code, error_logs.c.retry_count).where(
        error_logs.c.customer_id == customer
    )
    with engine.connect() as c:
        return [tuple(r) for r in c.execute(query.order_by(error_logs.c.id))]  # type: ignore[misc]


@on_backends()
def test_outcomes_retries_and_flags(engine: Engine, tmp_path: Path) -> None:
    path = write_customers(
        tmp_path / "c.csv",
        [("P1", "100"), ("F1", "100"), ("R1", "0"), ("T1", "0"), ("N1", "0"), ("M1", "0")],
    )
    source = ScriptedSource(
        {
            "P1": [Decimal("100.00")],
            "F1": [Decimal("99.99")],
            "R1": [ApiFailure("503", status=503), TimeoutFailure("slow"), Decimal("5")],
            "T1": [TimeoutFailure("slow")],
            "N1": [NULL],
            "M1": [MissingData("404")],
        },
        default=Decimal(1),
    )
    summary = _run(engine, path, source)
    assert _results(engine) == {
        "P1": ("PASS", None, 1),
        "F1": ("FAIL", None, 1),
        "R1": ("PASS", None, 3),
        "T1": ("UNAVAILABLE", "TIMEOUT", 4),
        "N1": ("UNAVAILABLE", "NULL_BALANCE", 1),
        "M1": ("UNAVAILABLE", "MISSING_DATA", 4),
    }
    assert _errors(engine, "R1") == [("API_ERROR", 0), ("TIMEOUT", 1)]
    assert _errors(engine, "T1") == [("TIMEOUT", 0), ("TIMEOUT", 1), ("TIMEOUT", 2), ("TIMEOUT", 3)]
    assert source.calls["T1"] == 4
    assert source.calls["N1"] == 1
    assert (summary.passed, summary.failed, summary.unavailable) == (2, 1, 3)
    assert summary.by_code == {"TIMEOUT": 1, "NULL_BALANCE": 1, "MISSING_DATA": 1}
    with engine.connect() as c:
        alerted = {(r.customer_id, r.error_code) for r in c.execute(select(alerts))}
        run = c.execute(select(verification_runs)).one()
    assert alerted == {("T1", "TIMEOUT"), ("N1", "NULL_BALANCE"), ("M1", "MISSING_DATA")}
    assert (run.status, run.pass_count, run.fail_count, run.unavailable_count) == (
        "completed",
        2,
        1,
        3,
    )


def test_one_customer_raising_unexpectedly_does_not_stop_the_others(
    engine: Engine, tmp_path: Path
) -> None:
    rows = [(f"C{i:03d}", "0") for i in range(50)]
    path = write_customers(tmp_path / "c.csv", rows)
    source = ScriptedSource({"C007": [RuntimeError("bug in a parser")]}, default=Decimal(10))
    summary = _run(engine, path, source)
    results = _results(engine)
    assert len(results) == 50
    assert results["C007"] == ("UNAVAILABLE", "INTERNAL_ERROR", 1)
    assert sum(1 for s, _, _ in results.values() if s == "PASS") == 49
    with engine.connect() as c:
        trace = c.scalar(select(error_logs.c.stack_trace).where(error_logs.c.customer_id == "C007"))
    assert trace is not None
    # The type and every frame locate the bug; the message is withheld, as any text from
    # outside balmon's own errors may quote the bank (`errors.traces`).
    assert "RuntimeError: (message withheld" in trace and "in fetch" in trace
    assert "bug in a parser" not in trace
    assert summary.by_code == {"INTERNAL_ERROR": 1}


def test_retry_delays_are_waited_without_holding_up_the_batch(
    engine: Engine, tmp_path: Path
) -> None:
    rows = [("SLOW", "0")] + [(f"C{i:03d}", "0") for i in range(40)]
    path = write_customers(tmp_path / "c.csv", rows)
    source = ScriptedSource({"SLOW": [TimeoutFailure("x")] * 3 + [Decimal(1)]}, default=Decimal(1))
    # Delays long enough that 40 customers finish inside the first one even on a busy machine.
    _run(engine, path, source, engine={"concurrency": 1}, retry={"delays_seconds": [0.5, 1, 2]})
    with engine.connect() as c:
        logged = [r.logged_at for r in c.execute(select(error_logs).order_by(error_logs.c.id))]
        finished = {r.customer_id: r.checked_at for r in c.execute(select(verification_results))}
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(logged)]
    # Each retry waits at least its delay.
    assert gaps[0] >= 0.5
    assert gaps[1] >= 1.0
    assert (finished["SLOW"] - logged[-1]).total_seconds() >= 2.0
    # With one slot, every other customer finished while SLOW waited out its delays.
    assert max(v for k, v in finished.items() if k != "SLOW") < finished["SLOW"]


def test_bad_rows_are_logged_once_and_get_no_result(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("customer_id,min_balance\nA,1\n,2\nA,3\nB,x\nC,0\n", encoding="utf-8")
    summary = _run(engine, path, ScriptedSource({}, default=Decimal(5)))
    assert set(_results(engine)) == {"A", "C"}
    with engine.connect() as c:
        bad = c.execute(
            select(error_logs.c.source_line, error_logs.c.error_message).where(
                error_logs.c.error_code == "INVALID_INPUT"
            )
        ).all()
    assert sorted(line for line, _ in bad) == [3, 4, 5]
    assert all(f"line {line}" in message for line, message in bad)
    assert summary.invalid_input == 3
    assert summary.total == 2


def test_completed_date_is_not_run_again_unless_rerun(engine: Engine, tmp_path: Path) -> None:
    path = write_customers(tmp_path / "c.csv", [("A", "0")])
    source = ScriptedSource({}, default=Decimal(1))
    first = _run(engine, path, source)
    again = _run(engine, path, source)
    assert again.already_completed
    assert again.run_id == first.run_id
    assert source.calls["A"] == 1
    settings = fast_settings(str(engine.url))
    rerun = asyncio.run(
        VerificationRun(settings=settings, engine=engine, source=source).execute(
            RunRequest(DAY, mode="rerun", customers_file=path)
        )
    )
    assert rerun.run_id != first.run_id
    assert rerun.kind == "rerun"
    assert source.calls["A"] == 2


@on_backends()
def test_retry_unavailable_rechecks_only_unavailable(engine: Engine, tmp_path: Path) -> None:
    path = write_customers(tmp_path / "c.csv", [("OK", "0"), ("DOWN", "0"), ("NUL", "0")])
    source = ScriptedSource(
        {"DOWN": [TimeoutFailure("x")] * 4 + [Decimal(3)], "NUL": [NULL]},
        default=Decimal(1),
    )
    first = _run(engine, path, source)
    assert first.unavailable == 2
    settings = fast_settings(str(engine.url))
    second = asyncio.run(
        VerificationRun(settings=settings, engine=engine, source=source).execute(
            RunRequest(DAY, mode="retry_unavailable")
        )
    )
    assert second.kind == "retry_unavailable"
    assert second.total == 2
    assert (second.passed, second.unavailable) == (1, 1)
    assert source.calls["OK"] == 1
    assert source.calls["DOWN"] == 5
    with engine.connect() as c:
        parent = c.scalar(
            select(verification_runs.c.parent_run_id).where(verification_runs.c.id == second.run_id)
        )
        alerts_for_nul = c.execute(select(alerts).where(alerts.c.customer_id == "NUL")).all()
    assert parent == first.run_id
    assert len(alerts_for_nul) == 1


class _StealsTheLease(ScriptedSource):
    """Answers slowly; at the tenth call another process takes the date's lease over."""

    def __init__(self, engine: Engine) -> None:
        super().__init__({}, default=Decimal(1))
        self._engine = engine

    async def fetch(self, customer_id: str) -> Reading:
        if sum(self.calls.values()) == 10:
            with self._engine.begin() as c:
                c.execute(update(run_leases).values(host="elsewhere", pid=4242))
        await asyncio.sleep(0.01)
        return await super().fetch(customer_id)


def test_a_run_whose_lease_was_taken_over_stops_and_leaves_the_run_to_its_new_owner(
    engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The error surfaces as itself (not an ExceptionGroup), and the process that lost the
    lease writes nothing more: neither rows nor the run's status, which are the new owner's.
    The run moved, it did not fail: no "run failed" line (the scheduler's FAILED alarm keys on
    it), a warning that says where it went."""
    path = write_customers(tmp_path / "c.csv", [(f"C{i}", "0") for i in range(400)])
    with pytest.raises(LeaseLost, match="lost the lease"):
        _run(engine, path, _StealsTheLease(engine), engine={"heartbeat_seconds": 0.05})
    said = [(r.levelname, r.getMessage()) for r in caplog.records if r.name.startswith("balmon")]
    assert ("WARNING", "run moved") in said
    assert not [line for line in said if line[0] == "ERROR"]
    with engine.connect() as c:
        run = c.execute(select(verification_runs)).one()
        written = c.scalar(select(func.count()).select_from(verification_results))
    assert run.status == "running" and run.reason is None
    assert written is not None and written < 20


def test_a_customer_file_without_customer_id_is_refused_before_the_run_opens(
    engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "c.csv"
    path.write_text("id,min_balance\nC1,5\n", encoding="utf-8")
    with pytest.raises(CustomerFileError, match="header has no customer_id column") as caught:
        _run(engine, path, ScriptedSource({}, default=Decimal(1)))
    assert isinstance(caught.value, ConfigError)
    assert caught.value.key == "verification.customers_file"
    with engine.connect() as c:
        assert c.execute(select(verification_runs)).all() == []
