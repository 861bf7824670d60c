"""Who banks with the simulated bank, and their (deterministic) balances."""

from __future__ import annotations

import csv
import hashlib
from decimal import Decimal
from pathlib import Path


class Population:
    """Generated ids `C0000001..C{n:07d}` (no per-customer memory) or ids from a file."""

    def __init__(
        self, *, generated: int = 0, ids: frozenset[str] = frozenset(), seed: int = 42
    ) -> None:
        self._generated = generated
        self._ids = ids
        self.seed = seed

    @classmethod
    def from_file(cls, path: Path, seed: int = 42) -> Population:
        """Everyone listed in a customer CSV (column `customer_id`)."""
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            if reader.fieldnames is None or "customer_id" not in reader.fieldnames:
                raise ValueError(f"{path}: header has no customer_id column")
            ids = frozenset(row["customer_id"].strip() for row in reader if row.get("customer_id"))
        return cls(ids=ids, seed=seed)

    def __contains__(self, customer_id: str) -> bool:
        if customer_id in self._ids:
            return True
        if self._generated and len(customer_id) == 8 and customer_id[0] == "C":
            digits = customer_id[1:]
            return digits.isascii() and digits.isdigit() and 1 <= int(digits) <= self._generated
        return False

    def __len__(self) -> int:
        return self._generated + len(self._ids)

    def balance(self, customer_id: str) -> Decimal:
        """A stable balance between 0.00 and 99,999.99, built from integer cents."""
        digest = hashlib.blake2b(f"{self.seed}:{customer_id}".encode(), digest_size=8).digest()
        cents = int.from_bytes(digest, "little") % 10_000_000
        return Decimal(cents).scaleb(-2)


def customer_id(number: int) -> str:
    return f"C{number:07d}"


def _min_balance(number: int) -> str:
    # Mostly thresholds customers meet, some they do not, so a run shows PASS and FAIL.
    slot = (number * 7919) % 100
    if slot < 40:
        return ""
    if slot < 70:
        return "100.00"
    if slot < 92:
        return "25000.00"
    return "1000000.00"


def write_customers_csv(path: Path, count: int) -> Path:
    """Write the customer file that matches a generated population of `count`."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["customer_id", "min_balance"])
        for number in range(1, count + 1):
            writer.writerow([customer_id(number), _min_balance(number)])
    return path
