"""BALANCE_JUMP: a balance that rose or fell by a factor of `quality.jump_factor` or more
since the previous business date, by at least `quality.jump_min_change`. The PASS or FAIL
stands; a case opens so a person confirms the movement is real."""

from __future__ import annotations

from decimal import Decimal

from balmon.errors import ErrorCode
from balmon.rules.verdicts import Facts, Flag

CODE = ErrorCode.BALANCE_JUMP


def check(facts: Facts, *, factor: Decimal, min_change: Decimal) -> Flag | None:
    """No previous balance: nothing to compare with."""
    before = facts.previous
    if before is None or abs(facts.balance - before) < min_change:
        return None
    now, then = abs(facts.balance), abs(before)
    times = f"{factor.normalize():f}"
    # Never the amounts: the error log and the alerts must not carry balances.
    if now >= factor * then:
        return Flag(CODE, f"balance rose {times}-fold or more since the previous business date")
    if now * factor <= then:
        return Flag(CODE, f"balance fell to 1/{times} or less since the previous business date")
    return None
