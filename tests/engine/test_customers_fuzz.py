"""The customer-file reader, fuzzed with hypothesis (issue 12): whatever bytes follow the
header, every line that is not blank comes back once, as a customer or as INVALID_INPUT at
that line, and nothing raises; a good row comes back exactly as written."""

from __future__ import annotations

import tempfile
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from balmon.engine.customers import Customer, RejectedRow, read_customers, unsafe_id
from balmon.money import storable

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DEFAULT = Decimal("0.000000")


def _read(body: bytes) -> list[Customer | RejectedRow]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "customers.csv"
        path.write_bytes(b"customer_id,min_balance\n" + body)
        return list(read_customers(path, DEFAULT))


def _data_lines(body: bytes) -> list[int]:
    """Line numbers of the lines a reader must account for (not blank)."""
    numbered = []
    for number, raw in enumerate(body.split(b"\n"), start=2):
        try:
            blank = not raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            blank = False
        if not blank:
            numbered.append(number)
    return numbered


@FUZZ
@given(st.binary(max_size=400))
@example(b'C1,"5\nC2,7\n')
@example(b"C\x001,5\n")
@example(b"C1\r,5\nC2,\r6\n")
@example(b"M\xfcller,5\n")
@example(b"C1," + b"9" * 200_000 + b"\n")
@example(b'C1,"' + b"x" * 200_000 + b'"\n')
def test_every_line_comes_back_once_and_nothing_raises(body: bytes) -> None:
    rows = _read(body)
    assert [row.line for row in rows] == _data_lines(body)
    for row in rows:
        if isinstance(row, RejectedRow):
            assert row.reason.startswith(f"line {row.line}: ")
            assert row.reason.isprintable() and len(row.reason) <= 200
            assert "quote" not in row.reason or '"' in body.split(b"\n")[row.line - 2].decode()


@FUZZ
@given(st.text(max_size=600))
def test_any_text_comes_back_line_for_line(text: str) -> None:
    body = text.encode("utf-8")
    assert [row.line for row in _read(body)] == _data_lines(body)


ids = st.text(
    alphabet=st.characters(exclude_categories=("Cc", "Cf", "Cs", "Zl", "Zp", "Co", "Cn")),
    min_size=1,
    max_size=50,
).filter(lambda s: s.strip() == s and unsafe_id(s) is None and not set(s) & set(',"'))
minimums = st.decimals(min_value=Decimal(0), max_value=Decimal("1e17"), allow_nan=False)


@FUZZ
@given(st.lists(st.tuples(ids, minimums), max_size=20, unique_by=lambda row: row[0]))
def test_good_rows_come_back_exactly_as_written(rows: list[tuple[str, Decimal]]) -> None:
    body = "".join(f"{cid},{format(minimum, 'f')}\n" for cid, minimum in rows).encode()
    read = _read(body)
    assert all(isinstance(row, Customer) for row in read), read
    assert [(c.customer_id, c.min_balance) for c in read if isinstance(c, Customer)] == [
        (cid, storable(minimum)) for cid, minimum in rows
    ]


def test_each_bad_line_is_named_for_what_is_wrong_with_it() -> None:
    """Found by the fuzzing: a carriage return mid-line and a huge field were both reported as
    an unclosed quote, and a field more than the header (an unquoted thousands separator,
    "1,000") was dropped: the minimum read as 1."""
    body = b'C1,"5\nC2\r,5\nC3,' + b"9" * 200_000 + b"\nC4,1,000\nC5,7,\n"
    assert [(row.line, getattr(row, "reason", None)) for row in _read(body)] == [
        (2, "line 2: a quote is not closed on its line"),
        (3, "line 3: a carriage return inside the line"),
        (4, "line 4: a field longer than 131,072 characters"),
        (5, "line 5: 3 fields, the header has 2 (an unquoted comma?)"),
        (6, None),
    ]
