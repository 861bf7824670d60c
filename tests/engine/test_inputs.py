"""Where a run's customers come from: the file (skipping what a resumed run did) or the
date's UNAVAILABLE customers (each customer's latest result only)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine

from balmon.engine import inputs
from balmon.engine.records import ErrorRecord
from balmon.errors import ErrorCode
from tests.engine.helpers import write_customers
from tests.engine.seed import DAY, START, add_errors, add_run


def _file(tmp_path: Path) -> Path:
    return write_customers(
        tmp_path / "customers.csv",
        [("C1", "10"), ("C2", "not-a-number"), ("C3", ""), ("C1", "5"), ("C4", "7.5")],
    )


def _from_file(
    engine: Engine, run_id: int, path: Path, *, resumed: bool
) -> tuple[list[str], list[ErrorRecord]]:
    rejected: list[ErrorRecord] = []
    customers = inputs.from_file(
        engine=engine,
        run_id=run_id,
        path=path,
        default_min=Decimal("1"),
        resumed=resumed,
        reject=rejected.append,
        now=lambda: START,
    )
    return [c.customer_id for c in customers], rejected


def test_a_new_run_gets_every_good_row_and_rejects_each_bad_one_with_its_line(
    engine: Engine, tmp_path: Path
) -> None:
    run_id = add_run(engine, [], status="running")
    ids, rejected = _from_file(engine, run_id, _file(tmp_path), resumed=False)
    assert ids == ["C1", "C3", "C4"]
    assert [(r.code, r.source_line, r.customer_id) for r in rejected] == [
        (ErrorCode.INVALID_INPUT, 3, "C2"),
        (ErrorCode.INVALID_INPUT, 5, "C1"),
    ]
    assert all(r.retry_count == 0 and r.logged_at == START for r in rejected)


def test_a_resumed_run_skips_done_customers_and_does_not_reject_a_line_twice(
    engine: Engine, tmp_path: Path
) -> None:
    run_id = add_run(engine, [("C1", "PASS", None, 1)], status="interrupted")
    add_errors(engine, run_id, [("C2", "INVALID_INPUT", 3)])
    ids, rejected = _from_file(engine, run_id, _file(tmp_path), resumed=True)
    assert ids == ["C3", "C4"]
    assert [r.source_line for r in rejected] == [5]  # line 3 was logged before the stop
    assert inputs.count_done(engine, run_id) == 1


def test_results_of_another_run_do_not_count_as_done(engine: Engine, tmp_path: Path) -> None:
    add_run(engine, [("C1", "PASS", None, 1), ("C3", "FAIL", None, 1)])
    rerun = add_run(engine, [], status="interrupted", kind="rerun")
    ids, _ = _from_file(engine, rerun, _file(tmp_path), resumed=True)
    assert ids == ["C1", "C3", "C4"]
    assert inputs.count_done(engine, rerun) == 0


def test_retry_unavailable_takes_each_customers_latest_result_only(engine: Engine) -> None:
    add_run(
        engine,
        [
            ("A", "UNAVAILABLE", "TIMEOUT", 4),  # recovered by the later run: not again
            ("B", "UNAVAILABLE", "NETWORK_ERROR", 4),  # still unavailable later: again
            ("C", "UNAVAILABLE", "NULL_BALANCE", 1),  # never re-checked: again
            ("D", "PASS", None, 1),
        ],
    )
    later = add_run(
        engine,
        [("A", "PASS", None, 2), ("B", "UNAVAILABLE", "TIMEOUT", 4)],
        kind="retry_unavailable",
    )
    current = add_run(engine, [], status="running", kind="retry_unavailable")
    found = list(inputs.unavailable_on(engine, business_date=DAY, run_id=current))
    assert [(c.customer_id, c.min_balance) for c in found] == [
        ("B", Decimal("100.25")),
        ("C", Decimal("100.25")),
    ]
    assert inputs.count_unavailable(engine, business_date=DAY, run_id=current) == 2
    # The run's own results are not handed back to it (a resumed retry goes on from there).
    assert [
        c.customer_id for c in inputs.unavailable_on(engine, business_date=DAY, run_id=later)
    ] == ["C"]


def test_retry_unavailable_pages_through_more_customers_than_one_chunk(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(inputs, "_CHUNK", 2)
    add_run(engine, [(f"U{i}", "UNAVAILABLE", "TIMEOUT", 4) for i in range(5)])
    current = add_run(engine, [], status="running", kind="retry_unavailable")
    found = [
        c.customer_id for c in inputs.unavailable_on(engine, business_date=DAY, run_id=current)
    ]
    assert found == ["U0", "U1", "U2", "U3", "U4"]
