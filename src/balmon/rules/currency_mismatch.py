"""CURRENCY_MISMATCH: a balance in another currency than the customer's is not comparable
with its minimum at all."""

from __future__ import annotations

from balmon.errors import ErrorCode
from balmon.rules.verdicts import Facts, Reject

CODE = ErrorCode.CURRENCY_MISMATCH


def check(facts: Facts) -> Reject | None:
    """No expected currency, or an answer that names none: nothing to compare."""
    expected, reported = facts.currency, facts.reading.currency
    if expected is None or reported is None or reported == expected:
        return None
    # Both are codes, not amounts: safe in the error log. A bank's odd value is cut short.
    return Reject(CODE, f"balance in {reported[:8]!r}, expected {expected}")
