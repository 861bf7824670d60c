"""Fault injection: what the simulated bank does wrong, per customer or at a rate."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

SIMPLE = frozenset(
    {
        "timeout",
        "trickle",
        "reset",
        "missing",
        "malformed",
        "html",
        "wrong-id",
        "null",
        "negative",
        # Well-formed and wrong, for the data-quality rules: an old snapshot, another
        # currency, a balance a thousand times yesterday's, a balance of 0.00 (a bank-side
        # bug that makes FAILs), and `*,stale_feed`: every customer's answer stale.
        "stale",
        "currency",
        "jump",
        "zero",
        "stale_feed",
    }
)
# The fault file's customer id for "every customer without a fault of its own".
EVERYONE = "*"
WITH_ARG = frozenset({"status", "flaky", "slow"})

# The mix drawn for `--fault-rate`: mostly transient trouble that a retry fixes, some that a
# retry cannot fix, and a few data-quality flags. Weights are percent of the faulty customers.
REALISTIC_MIX: tuple[tuple[str, int], ...] = (
    ("flaky:1", 30),
    ("flaky:2", 12),
    ("status:503", 8),
    ("status:429", 3),
    ("missing", 10),
    ("null", 6),
    ("negative", 6),
    ("malformed", 5),
    ("wrong-id", 3),
    ("html", 2),
    ("timeout", 5),
    ("trickle", 2),
    ("reset", 5),
    ("slow:0.2", 3),
    ("stale", 2),
    ("currency", 2),
    ("jump", 2),
)


@dataclass(frozen=True, slots=True)
class Fault:
    kind: str
    arg: float | None = None


def parse_fault(spec: str) -> Fault:
    """Parse `timeout`, `status:503`, `flaky:2`, `slow:1.5`, ...; ValueError when unknown."""
    kind, _, raw = spec.strip().partition(":")
    if kind in SIMPLE and not raw:
        return Fault(kind)
    if kind in WITH_ARG and raw:
        try:
            arg = float(raw)
        except ValueError:
            raise ValueError(f"fault {spec!r}: {raw!r} is not a number") from None
        if arg < 0 or (kind == "status" and not 100 <= arg <= 599):
            raise ValueError(f"fault {spec!r}: value out of range")
        return Fault(kind, arg)
    raise ValueError(f"unknown fault {spec!r}")


def read_faults(path: Path) -> dict[str, Fault]:
    """Read `customer_id,fault` lines (optional header, # comments); errors name the line."""
    faults: dict[str, Fault] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        text = line.strip()
        if not text or text.startswith("#") or text.replace(" ", "") == "customer_id,fault":
            continue
        customer_id, sep, spec = text.partition(",")
        if not sep or not customer_id.strip():
            raise ValueError(f"{path} line {number}: expected customer_id,fault")
        try:
            faults[customer_id.strip()] = parse_fault(spec)
        except ValueError as exc:
            raise ValueError(f"{path} line {number}: {exc}") from None
    return faults


def _unit(seed: int, customer_id: str, salt: str) -> float:
    digest = hashlib.blake2b(f"{seed}:{salt}:{customer_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") / 2**64


class FaultPlan:
    """Explicit faults first; otherwise a seeded draw puts `rate` of customers on the mix."""

    def __init__(self, explicit: Mapping[str, Fault], rate: float, seed: int) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError("fault rate must be between 0 and 1")
        self._explicit = dict(explicit)
        self._rate = rate
        self._seed = seed
        total = sum(weight for _, weight in REALISTIC_MIX)
        running = 0.0
        self._mix: list[tuple[float, Fault]] = []
        for spec, weight in REALISTIC_MIX:
            running += weight / total
            self._mix.append((running, parse_fault(spec)))

    def fault_for(self, customer_id: str) -> Fault | None:
        """The customer's fault, the same every time (no state)."""
        explicit = self._explicit.get(customer_id) or self._explicit.get(EVERYONE)
        if explicit is not None or not self._rate:
            return explicit
        if _unit(self._seed, customer_id, "faulty") >= self._rate:
            return None
        pick = _unit(self._seed, customer_id, "kind")
        return next((fault for edge, fault in self._mix if pick < edge), self._mix[-1][1])

    def faulty(self, customer_ids: Iterable[str]) -> dict[str, Fault]:
        """The faults of `customer_ids` (for tests and the demo's explanation)."""
        return {c: f for c in customer_ids if (f := self.fault_for(c)) is not None}


class DailyFaults(FaultPlan):
    """A bank whose faults change from day to day, with a few customers failing every day.

    For the demo's history: `day` picks which customers have a fault that day (a new draw
    each date), while `recurring` of them (a fixed draw) fail every day with the same fault,
    so the dashboard shows recurring problems, regressions and one-off trouble side by side.
    """

    def __init__(
        self,
        rate: float,
        seed: int,
        recurring: float,
        bad_days: Mapping[int, tuple[Fault, float]] | None = None,
    ) -> None:
        """`bad_days`: on the day (an ordinal), that share of customers gets that fault
        first, as a bank's bad day would give them (a stale feed, a bug that zeroes balances)."""
        super().__init__({}, rate, seed)
        self._recurring = FaultPlan({}, recurring, seed=seed + 1_000_003)
        self._base_seed = seed
        self._bad_days = dict(bad_days or {})
        self.day = 0

    def fault_for(self, customer_id: str) -> Fault | None:
        bad = self._bad_days.get(self.day)
        if bad is not None and _unit(self._base_seed + self.day, customer_id, "bad") < bad[1]:
            return bad[0]
        steady = self._recurring.fault_for(customer_id)
        if steady is not None:
            return steady
        self._seed = self._base_seed + self.day
        return super().fault_for(customer_id)
