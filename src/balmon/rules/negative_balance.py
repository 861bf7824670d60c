"""NEGATIVE_BALANCE: these accounts cannot hold less than zero (the story's code)."""

from __future__ import annotations

from balmon.errors import ErrorCode
from balmon.rules.verdicts import Facts, Reject

CODE = ErrorCode.NEGATIVE_BALANCE


def check(facts: Facts) -> Reject | None:
    return Reject(CODE, "balance is negative") if facts.balance < 0 else None
