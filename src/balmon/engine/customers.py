"""Stream the customer file row by row, rejecting bad rows with their line number.

The file is UTF-8 CSV with a header naming `customer_id` (and optionally `min_balance` and
`currency`), one customer per line. A line that is not UTF-8, whose quote is not closed, whose
id is empty, unsafe (`unsafe_id`) or repeated, whose minimum is not an amount (`AMOUNT`,
`balmon.money`) or whose currency is not three letters is rejected with its line number as
INVALID_INPUT; the rest of the file goes on.
"""

from __future__ import annotations

import codecs
import csv
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from hashlib import blake2b
from pathlib import Path
from typing import BinaryIO

from balmon import limits
from balmon.config.settings import currency_code
from balmon.errors import CustomerFileError
from balmon.money import OutOfRange, parse_amount, storable


@dataclass(frozen=True, slots=True)
class Customer:
    customer_id: str
    min_balance: Decimal
    line: int
    # A resumed run's customer already tried: how many attempts the error log holds, and the
    # last one's code. It goes on at its next attempt, or ends with that code if none is left.
    attempts_made: int = 0
    last_code: str | None = None
    # The currency its balance must be in (None: `verification.currency`), and its balance of
    # the previous business date (None: none known), for the verification rules.
    currency: str | None = None
    previous: Decimal | None = None


@dataclass(frozen=True, slots=True)
class RejectedRow:
    line: int
    customer_id: str | None
    reason: str


class SeenIds:
    """A compact set of 64-bit id hashes (16 bytes per id), so 5 million ids fit in ~80 MB.

    Two different ids share a 64-bit BLAKE2 hash with odds of about 1 in 10^12 for 5 million
    ids; such a pair would be reported as a duplicate, never silently dropped.
    """

    def __init__(self, capacity: int = 1 << 16) -> None:
        self._slots = array("Q", bytes(8 * capacity))
        self._count = 0

    def add(self, key: str) -> bool:
        """Add `key`; False when it was already present."""
        if 2 * (self._count + 1) > len(self._slots):
            self._grow()
        found = self._insert(self._slots, self._hash(key))
        self._count += not found
        return not found

    @staticmethod
    def _hash(key: str) -> int:
        # 0 marks an empty slot, so hashes are never 0.
        return int.from_bytes(blake2b(key.encode(), digest_size=8).digest(), "little") or 1

    @staticmethod
    def _insert(slots: array[int], value: int) -> bool:
        mask = len(slots) - 1
        index = value & mask
        while slots[index]:
            if slots[index] == value:
                return True
            index = (index + 1) & mask
        slots[index] = value
        return False

    def _grow(self) -> None:
        bigger = array("Q", bytes(16 * len(self._slots)))
        for value in self._slots:
            if value:
                self._insert(bigger, value)
        self._slots = bigger


# The file's rule for an id, shared with whatever else names customers (silences).
unsafe_id = limits.unsafe_customer_id


def _parse_min(raw: str | None, default: Decimal) -> Decimal | str:
    """The row's minimum as it will be compared and stored, or what is wrong with it."""
    text = (raw or "").strip()
    if not text:
        return default
    try:
        value = storable(parse_amount(text))
    except InvalidOperation:
        return "min_balance is not a decimal number"
    except OutOfRange as exc:
        return f"min_balance out of range: {exc}"
    # A balance is never negative (NEGATIVE_BALANCE), so a negative minimum passes everyone:
    # a typo, not a rule.
    return "min_balance is negative" if value < 0 else value


def _check(
    row: dict[str, str | None], line: int, default: Decimal, seen: SeenIds
) -> Customer | RejectedRow:
    customer_id = (row.get("customer_id") or "").strip()
    if not customer_id:
        return RejectedRow(line, None, f"line {line}: empty customer_id")
    unsafe = unsafe_id(customer_id)
    if unsafe is not None:
        return RejectedRow(line, None, f"line {line}: {unsafe}")
    min_balance = _parse_min(row.get("min_balance"), default)
    if isinstance(min_balance, str):
        return RejectedRow(line, customer_id, f"line {line}: {min_balance}")
    currency = (row.get("currency") or "").strip()
    if currency:
        try:
            currency = currency_code(currency)
        except ValueError:
            return RejectedRow(line, customer_id, f"line {line}: currency is not three letters")
    if not seen.add(customer_id):
        return RejectedRow(line, customer_id, f"line {line}: duplicate customer_id")
    return Customer(customer_id, min_balance, line, currency=currency or None)


def _open(path: Path) -> BinaryIO:
    try:
        return path.open("rb")
    except OSError as exc:
        raise CustomerFileError(f"cannot open customer file {path}: {exc.strerror}") from None


def _lines(handle: BinaryIO) -> Iterator[tuple[int, str | None]]:
    """Each physical line, decoded strictly as UTF-8 (a leading BOM dropped); None for a line
    that is not UTF-8. A line is a row: no field of the file may span lines, so a quote left
    open spoils its own line only."""
    for number, raw in enumerate(handle, start=1):
        if number == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8) :]
        try:
            yield number, raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            yield number, None


def _fields(text: str) -> list[str]:
    return next(csv.reader([text], strict=True), [])


def _csv_problem(exc: csv.Error) -> str:
    """The csv module's complaint about one line, in the file's terms."""
    text = str(exc)
    if "unexpected end of data" in text:
        return "a quote is not closed on its line"
    if "field larger than field limit" in text:
        return f"a field longer than {csv.field_size_limit():,} characters"
    if "new-line character" in text:
        return "a carriage return inside the line"
    return "not a CSV row"


def _header(lines: Iterator[tuple[int, str | None]], path: Path) -> list[str]:
    for number, text in lines:
        if text is None:
            raise CustomerFileError(f"{path}: line {number} (the header) is not UTF-8")
        if text.strip():
            try:
                header = [name.strip() for name in _fields(text)]
            except csv.Error:
                break
            if "customer_id" in header:
                for name in _READ:
                    if header.count(name) > 1:
                        # Which one holds the ids? Guessing could verify the wrong column.
                        raise CustomerFileError(f"{path}: the header names {name} twice")
                return header
            break
    raise CustomerFileError(f"{path}: header has no customer_id column")


_READ = ("customer_id", "min_balance", "currency")


def check_file(path: Path, *, allow_empty: bool = False) -> None:
    """Raise `CustomerFileError` unless the file opens, its header names customer_id (once),
    and a line follows it (`allow_empty`: none need to).

    Called before a run opens, so an unusable file is a usage error, not a failed run. An
    export that came out empty upstream would otherwise be a completed run of no customers:
    a quiet day, to anyone who looked."""
    with _open(path) as handle:
        lines = _lines(handle)
        _header(lines, path)
        if allow_empty or any(text is None or text.strip() for _, text in lines):
            return
    raise CustomerFileError(
        f"{path}: no customer after the header (set verification.allow_empty = true if an "
        "empty list is expected)"
    )


def read_customers(path: Path, default_min: Decimal) -> Iterator[Customer | RejectedRow]:
    """Yield each row as a `Customer` or a `RejectedRow`; never loads the file whole."""
    with _open(path) as handle:
        lines = _lines(handle)
        header = _header(lines, path)
        seen = SeenIds()
        for number, text in lines:
            if text is None:
                yield RejectedRow(
                    number, None, f"line {number}: not UTF-8 (save the file as UTF-8)"
                )
                continue
            if not text.strip():
                continue
            try:
                fields = _fields(text)
            except csv.Error as exc:
                yield RejectedRow(number, None, f"line {number}: {_csv_problem(exc)}")
                continue
            if any(extra.strip() for extra in fields[len(header) :]):
                # "C1,1,000" is not a minimum of 1: a field too many is never dropped silently
                # (empty ones, as a trailing comma makes, carry nothing to drop).
                reason = f"{len(fields)} fields, the header has {len(header)} (an unquoted comma?)"
                yield RejectedRow(number, None, f"line {number}: {reason}")
                continue
            yield _check(dict(zip(header, fields, strict=False)), number, default_min, seen)


def count_rows(path: Path) -> int:
    """Data rows in the file (lines minus the header), cheaply, for the progress display."""
    lines = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            lines += chunk.count(b"\n")
    return max(lines - 1, 0)
