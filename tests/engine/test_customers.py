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
    check_file,
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


def test_a_negative_minimum_is_a_bad_line(tmp_path: Path) -> None:
    """No balance is negative, so a negative minimum passes everyone: refused like the other
    bad minimums, for its line only."""
    rows = _rows(tmp_path, "customer_id,min_balance\nA1,-5\nA2,-0.000001\nA3,0\n")
    assert [(r.line, r.reason) for r in rows if isinstance(r, RejectedRow)] == [
        (2, "line 2: min_balance is negative"),
        (3, "line 3: min_balance is negative"),
    ]
    assert [r.customer_id for r in rows if isinstance(r, Customer)] == ["A3"]


def test_an_optional_currency_column_names_each_customer_s_currency(tmp_path: Path) -> None:
    """An empty cell means the default (`verification.currency`); a cell that is not three
    letters is a bad line, not a customer checked against nothing."""
    text = "customer_id,min_balance,currency\nA1,1,eur\nA2,1,\nA3,1,EURO\nA4,1, 12\nA5,1,GBP\n"
    rows = _rows(tmp_path, text)
    good = [(r.customer_id, r.currency) for r in rows if isinstance(r, Customer)]
    assert good == [("A1", "EUR"), ("A2", None), ("A5", "GBP")]
    bad = [r.reason for r in rows if isinstance(r, RejectedRow)]
    assert bad == ["line 4: currency is not three letters", "line 5: currency is not three letters"]


@pytest.mark.parametrize("column", ["customer_id", "min_balance", "currency"])
def test_a_header_naming_a_column_twice_refuses_the_file(tmp_path: Path, column: str) -> None:
    """The last one used to win: the run could verify another column than the one meant."""
    header = "customer_id,min_balance,currency," + column
    path = tmp_path / "c.csv"
    path.write_text(f"{header}\nA1,1,USD,B1\n", encoding="utf-8")
    with pytest.raises(CustomerFileError, match=f"the header names {column} twice"):
        check_file(path)


def test_a_file_with_no_customer_after_its_header_is_refused_unless_allowed(
    tmp_path: Path,
) -> None:
    path = tmp_path / "c.csv"
    path.write_text("customer_id,min_balance\n\n  \n", encoding="utf-8")
    with pytest.raises(CustomerFileError, match="no customer after the header"):
        check_file(path)
    check_file(path, allow_empty=True)
    path.write_text("customer_id\n,\n", encoding="utf-8")  # a bad line is still a line
    check_file(path)


def test_count_rows_excludes_the_header(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("customer_id\n" + "".join(f"C{i}\n" for i in range(1234)), encoding="utf-8")
    assert count_rows(path) == 1234


def test_seen_ids_is_an_exact_set_across_growth() -> None:
    seen = SeenIds(capacity=4)
    assert all(seen.add(f"C{i}") for i in range(10_000))
    assert not any(seen.add(f"C{i}") for i in range(10_000))
    assert seen.add("new")


def _from_bytes(tmp_path: Path, data: bytes) -> list[Customer | RejectedRow]:
    path = tmp_path / "customers.csv"
    path.write_bytes(data)
    return list(read_customers(path, Decimal("10")))


def test_a_line_that_is_not_utf8_is_rejected_not_mangled(tmp_path: Path) -> None:
    rows = _from_bytes(tmp_path, b"customer_id,min_balance\nM\xfcller,1\nM\xc3\xbcller,1\n")
    assert rows[0] == RejectedRow(2, None, "line 2: not UTF-8 (save the file as UTF-8)")
    assert rows[1] == Customer("Müller", Decimal("1"), 3)


def test_an_unclosed_quote_spoils_its_own_line_only(tmp_path: Path) -> None:
    rows = _from_bytes(tmp_path, b'customer_id,min_balance\n"A1,1\nB1,1\nC1,"2"\n')
    assert rows == [
        RejectedRow(2, None, "line 2: a quote is not closed on its line"),
        Customer("B1", Decimal("1"), 3),
        Customer("C1", Decimal("2"), 4),
    ]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b".,1", "customer_id is '.' or '..'"),
        (b"..,1", "customer_id is '.' or '..'"),
        (b"a\x00b,1", "customer_id holds a control character"),
        (b"a\x1bb,1", "customer_id holds a control character"),
        ("a\u2028b,1".encode(), "customer_id holds a control character"),
        (b"A1,1_000", "min_balance is not a decimal number"),
        ("A1,\u0661\u0662".encode(), "min_balance is not a decimal number"),
        (b"A1,Infinity", "min_balance is not a decimal number"),
        (b"A1,1 000", "min_balance is not a decimal number"),
        (b"A1,1e999", "min_balance out of range: more than 18 digits before the decimal point"),
    ],
)
def test_unsafe_ids_and_numbers_outside_the_grammar_are_rejected(
    tmp_path: Path, line: bytes, reason: str
) -> None:
    rows = _from_bytes(tmp_path, b"customer_id,min_balance\n" + line + b"\nOK,1\n")
    assert isinstance(rows[0], RejectedRow) and rows[0].reason == f"line 2: {reason}"
    assert rows[1] == Customer("OK", Decimal("1"), 3)


def test_a_header_that_is_not_utf8_refuses_the_file(tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_bytes(b"customer_id,m\xe9n\nA,1\n")
    with pytest.raises(CustomerFileError, match="line 1 \\(the header\\) is not UTF-8"):
        list(read_customers(path, Decimal("0")))
