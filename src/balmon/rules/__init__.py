"""Verification rules: pure checks over one customer's answer (`Judge`) and over a whole
business date (`day`). The transport parses, the rules judge, the engine only carries.

    Judge(reading, min_balance=..., currency=..., previous=...)
        -> Reject(code, message)     the customer is UNAVAILABLE with `code`
         | Outcome(PASS/FAIL, flags) the outcome stands; each Flag opens a case
"""

from __future__ import annotations

from balmon.rules.day import DayFigures, Finding, check_day
from balmon.rules.judge import Judge, stale_before
from balmon.rules.verdicts import Facts, Flag, Outcome, Reject

__all__ = [
    "DayFigures",
    "Facts",
    "Finding",
    "Flag",
    "Judge",
    "Outcome",
    "Reject",
    "check_day",
    "stale_before",
]
