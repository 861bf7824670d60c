"""Stream the customer file row by row, rejecting bad rows with their line number."""

from __future__ import annotations

import csv
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from hashlib import blake2b
from pathlib import Path
from typing import TextIO

from balmon import limits
from balmon.errors import CustomerFileError
from balmon.money import OutOfRange, storable


@dataclass(frozen=True, slots=True)
class Customer:
    customer_id: str
    min_balance: Decimal
    line: int


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


def _parse_min(raw: str | None, default: Decimal) -> Decimal | str:
    """The row's minimum as it will be compared and stored, or what is wrong with it."""
    text = (raw or "").strip()
    if not text:
        return default
    try:
        return storable(Decimal(text))
    except InvalidOperation:
        return "min_balance is not a decimal number"
    except OutOfRange as exc:
        return f"min_balance out of range: {exc}"


def _check(
    row: dict[str, str | None], line: int, default: Decimal, seen: SeenIds
) -> Customer | RejectedRow:
    customer_id = (row.get("customer_id") or "").strip()
    if not customer_id:
        return RejectedRow(line, None, f"line {line}: empty customer_id")
    if len(customer_id) > limits.CUSTOMER_ID:
        return RejectedRow(line, None, f"line {line}: customer_id longer than {limits.CUSTOMER_ID}")
    min_balance = _parse_min(row.get("min_balance"), default)
    if isinstance(min_balance, str):
        return RejectedRow(line, customer_id, f"line {line}: {min_balance}")
    if not seen.add(customer_id):
        return RejectedRow(line, customer_id, f"line {line}: duplicate customer_id")
    return Customer(customer_id, min_balance, line)


def _open(path: Path) -> TextIO:
    try:
        return path.open(newline="", encoding="utf-8-sig", errors="replace")
    except OSError as exc:
        raise CustomerFileError(f"cannot open customer file {path}: {exc.strerror}") from None


def _reader(handle: TextIO, path: Path) -> csv.DictReader[str]:
    reader = csv.DictReader(handle)
    if reader.fieldnames is None or "customer_id" not in reader.fieldnames:
        raise CustomerFileError(f"{path}: header has no customer_id column")
    return reader


def check_file(path: Path) -> None:
    """Raise `CustomerFileError` unless the file opens and its header has customer_id.

    Called before a run opens, so an unusable file is a usage error, not a failed run.
    """
    with _open(path) as handle:
        _reader(handle, path)


def read_customers(path: Path, default_min: Decimal) -> Iterator[Customer | RejectedRow]:
    """Yield each row as a `Customer` or a `RejectedRow`; never loads the file whole."""
    with _open(path) as handle:
        reader = _reader(handle, path)
        seen = SeenIds()
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield RejectedRow(reader.line_num, None, f"line {reader.line_num}: {exc}")
                continue
            # line_num counts physical lines, so a quoted multi-line field keeps the right number.
            yield _check(row, reader.line_num, default_min, seen)


def count_rows(path: Path) -> int:
    """Data rows in the file (lines minus the header), cheaply, for the progress display."""
    lines = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            lines += chunk.count(b"\n")
    return max(lines - 1, 0)
