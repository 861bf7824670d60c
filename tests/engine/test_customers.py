"""The customer file is streamed; bad rows are rejected with their line number."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from balmon.engine.customers import (
    Customer,
    CustomerFileError,
    RejectedRow,
    SeenIds,
    count_rows,
    read_customers,
)


def _rows(tmp_path: Path, text: str) -> list[Customer | RejectedRow]:
    path = tmp_path / "customers.csv"
    path.write_text(text, encoding="utf-8")
    return list(read_customers(path, Decimal("10")))


def test_good_rows_with_default_and_explicit_minimums(tmp_path: Path) -> None:
    rows = _rows(tmp_path, "customer_id,min_balance,name\nA1,100.50,x\nA2,,y\n A3 ,0,z\n")
    assert rows == [
        Customer("A1", Decimal("100.50"), 2),
        Customer("A2", Decimal("10"), 3),
        Customer("A3", Decimal("0"), 4),
    ]


def test_bad_rows_are_named_by_line_and_the_rest_goes_on(tmp_path: Path) -> None:
    text = "customer_id,min_balance\nA1,1\n,5\nA1,2\nA2,abc\nA3,NaN\nA4,3\n"
    rows = _rows(tmp_path, text)
    rejected = [r for r in rows if isinstance(r, RejectedRow)]
    assert [r.line for r in rejected] == [3, 4, 5, 6]
    assert "line 3" in rejected[0].reason
    assert "empty customer_id" in rejected[0].reason
    assert "duplicate" in rejected[1].reason
    assert "min_balance" in rejected[2].reason
    assert [r.customer_id for r in rows if isinstance(r, Customer)] == ["A1", "A4"]


def test_a_file_without_customer_id_column_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CustomerFileError, match="customer_id"):
        _rows(tmp_path, "id,min\n1,2\n")


def test_count_rows_excludes_the_header(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("customer_id\n" + "".join(f"C{i}\n" for i in range(1234)), encoding="utf-8")
    assert count_rows(path) == 1234


def test_seen_ids_is_an_exact_set_across_growth() -> None:
    seen = SeenIds(capacity=4)
    assert all(seen.add(f"C{i}") for i in range(10_000))
    assert not any(seen.add(f"C{i}") for i in range(10_000))
    assert seen.add("new")
