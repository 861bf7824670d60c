"""NULL_BALANCE: the bank knows the customer but reports no balance (the story's code)."""

from __future__ import annotations

from balmon.errors import ErrorCode
from balmon.rules.verdicts import Reject
from balmon.source.base import Reading

CODE = ErrorCode.NULL_BALANCE


def check(reading: Reading) -> Reject | None:
    """Checked before every other rule: the rest need an amount."""
    return Reject(CODE, "balance is null") if reading.balance is None else None
