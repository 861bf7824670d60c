"""STALE_BALANCE: the bank answered from a snapshot older than the business date allows.

The cut-off is the end of the business date (in the schedule's time zone) minus
`quality.stale_after_hours`. An answer without `as_of` is not checked, unless
`quality.require_as_of` makes it INVALID_RESPONSE (a broken contract, retried like one).
"""

from __future__ import annotations

from balmon.errors import ErrorCode
from balmon.rules.verdicts import Facts, Reject

CODE = ErrorCode.STALE_BALANCE


def check(facts: Facts, *, require_as_of: bool) -> Reject | None:
    as_of = facts.reading.as_of
    if as_of is None:
        if require_as_of:
            return Reject(ErrorCode.INVALID_RESPONSE, "response has no as_of")
        return None
    if facts.stale_before is not None and as_of < facts.stale_before:
        return Reject(
            CODE, f"balance as of {as_of.isoformat()}, before {facts.stale_before.isoformat()}"
        )
    return None
