"""The error-code taxonomy: the one source of truth for codes, severities and actions.

`balmon db upgrade` seeds the `error_codes` table from `CODES`, `balmon codes` prints it and
`docs/error-codes.md` is generated from it (a test fails when the file drifts).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    CRITICAL = "CRITICAL"


class ErrorCode(StrEnum):
    TIMEOUT = "TIMEOUT"
    MISSING_DATA = "MISSING_DATA"
    INVALID_RESPONSE = "INVALID_RESPONSE"
    API_ERROR = "API_ERROR"
    NETWORK_ERROR = "NETWORK_ERROR"
    NULL_BALANCE = "NULL_BALANCE"
    NEGATIVE_BALANCE = "NEGATIVE_BALANCE"
    INVALID_INPUT = "INVALID_INPUT"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    SOURCE_UNAVAILABLE = "SOURCE_UNAVAILABLE"
    # Data quality: a balance that arrived well-formed and is wrong (`balmon.rules`).
    STALE_BALANCE = "STALE_BALANCE"
    CURRENCY_MISMATCH = "CURRENCY_MISMATCH"
    BALANCE_JUMP = "BALANCE_JUMP"
    # A date whose data looks wrong as a whole: one alarm per date and rule.
    STALE_FEED = "STALE_FEED"
    FAIL_SPIKE = "FAIL_SPIKE"
    UNAVAILABLE_SPIKE = "UNAVAILABLE_SPIKE"


@dataclass(frozen=True, slots=True)
class CodeInfo:
    """What an error code means and what the operations team should do about it."""

    code: ErrorCode
    description: str
    severity: Severity
    suggested_action: str
    root_cause: str
    retryable: bool


_C = ErrorCode
_S = Severity

CODES: dict[ErrorCode, CodeInfo] = {
    info.code: info
    for info in (
        CodeInfo(
            _C.TIMEOUT,
            "Balance API request exceeded source.timeout_seconds (default 30 s)",
            _S.HIGH,
            "Retry; contact banking system team if persistent",
            "No complete response within source.timeout_seconds (connect, headers and body "
            "under one deadline): the core-banking system is overloaded or hung.",
            retryable=True,
        ),
        CodeInfo(
            _C.MISSING_DATA,
            "No balance record found for customer",
            _S.MEDIUM,
            "Verify customer exists; check data sync",
            "The API answered 404: the customer is in our list but not (yet) in the core-banking "
            "system, usually a late or failed data sync.",
            retryable=True,
        ),
        CodeInfo(
            _C.INVALID_RESPONSE,
            "API returned unexpected format",
            _S.HIGH,
            "Check API documentation; escalate if format changed",
            "A 200 whose body is not a JSON object, lacks the balance, has an unparsable balance, "
            "one with more than 18 digits before the point, or another customer's id, or exceeds "
            "1 MiB: the API contract changed or broke.",
            retryable=True,
        ),
        CodeInfo(
            _C.API_ERROR,
            "Banking system API returned error",
            _S.MEDIUM,
            "Check API status; retry",
            "A 5xx, 429 or other unexpected HTTP status: the API is failing or throttling us.",
            retryable=True,
        ),
        CodeInfo(
            _C.NETWORK_ERROR,
            "Connection failure to banking system",
            _S.HIGH,
            "Check network connectivity; verify API endpoint",
            "Connection refused or reset, or DNS failure: the API host is down or unreachable.",
            retryable=True,
        ),
        CodeInfo(
            _C.NULL_BALANCE,
            "Balance field is null",
            _S.LOW,
            "Investigate customer account status",
            "The API knows the customer but reports no balance: often a closed, frozen or "
            "not yet opened account. A data-quality flag, not a transient failure.",
            retryable=False,
        ),
        CodeInfo(
            _C.NEGATIVE_BALANCE,
            "Balance is negative (invalid)",
            _S.MEDIUM,
            "Contact banking team; data quality issue",
            "The API reported a balance below zero, which these accounts cannot hold: a "
            "data-quality flag raised with the banking team, never counted as PASS or FAIL.",
            retryable=False,
        ),
        CodeInfo(
            _C.INVALID_INPUT,
            "Customer file row is invalid",
            _S.MEDIUM,
            "Fix the named line of the customer file; the rest of the batch was processed",
            "A row of the customer file has an empty or duplicate customer_id, or a min_balance "
            "that is not a decimal number or has more than 18 digits before the point. The row "
            "is skipped and logged with its line number.",
            retryable=False,
        ),
        CodeInfo(
            _C.INTERNAL_ERROR,
            "Unexpected error while processing a customer",
            _S.CRITICAL,
            "Escalate to the balmon engineers with the stack trace",
            "An unexpected exception in balmon itself while handling one customer; the stack "
            "trace is in the error log (visible to admins only).",
            retryable=False,
        ),
        CodeInfo(
            _C.SOURCE_UNAVAILABLE,
            "Not attempted: balance API down for the whole outage window",
            _S.CRITICAL,
            "Check the banking API; re-check later with `balmon run --retry-unavailable`",
            "The circuit breaker stayed open for source.outage_timeout_seconds, so customers not "
            "yet attempted were recorded unavailable to let the run end in bounded time.",
            retryable=False,
        ),
        CodeInfo(
            _C.STALE_BALANCE,
            "Balance is older than quality.stale_after_hours",
            _S.MEDIUM,
            "Ask the banking team why the snapshot is old; re-check once it is refreshed",
            "The response's as_of is earlier than the end of the business date minus "
            "quality.stale_after_hours (default 36): the bank answered from an old snapshot. "
            "Rejected, not retried: asking again gets the same snapshot.",
            retryable=False,
        ),
        CodeInfo(
            _C.CURRENCY_MISMATCH,
            "Balance is in another currency than the customer's",
            _S.HIGH,
            "Check the account's currency with the banking team; never compare it as is",
            "The response's currency differs from the customer's expected currency (the "
            "customer file's currency column, else verification.currency): comparing it with "
            "the minimum would be meaningless. Rejected, not retried.",
            retryable=False,
        ),
        CodeInfo(
            _C.BALANCE_JUMP,
            "Balance moved implausibly since the previous business date",
            _S.MEDIUM,
            "Confirm the movement with the banking team; resolve with notes if it is real",
            "The balance is at least quality.jump_factor (default 10) times, or at most a "
            "jump_factor-th of, the previous business date's, and moved by at least "
            "quality.jump_min_change. The PASS or FAIL stands; a case opens for a person.",
            retryable=False,
        ),
        CodeInfo(
            _C.STALE_FEED,
            "Most of the date's balances are stale: the whole feed is old",
            _S.CRITICAL,
            "Stop trusting the date's figures; ask the banking team to refresh the feed, "
            "then re-check with `balmon run --retry-unavailable`",
            "At least quality.stale_feed_ratio (default 0.5) of the date's fetched balances "
            "were STALE_BALANCE: the bank served an old snapshot to everyone. One alarm for "
            "the date; its STALE_BALANCE alerts are folded into it.",
            retryable=False,
        ),
        CodeInfo(
            _C.FAIL_SPIKE,
            "Far more FAILs than usual on one date",
            _S.HIGH,
            "Look for a bank-side error before acting on the FAILs",
            "The date's FAIL count is at least quality.fail_spike_factor (default 3) times the "
            "median of the last 20 completed dates and at least quality.fail_spike_min (20) "
            "above it: usually a bank-side bug, not that many customers at once.",
            retryable=False,
        ),
        CodeInfo(
            _C.UNAVAILABLE_SPIKE,
            "Far more UNAVAILABLE customers than usual on one date",
            _S.HIGH,
            "Check the banking API's health for the date; re-check with --retry-unavailable",
            "The date's UNAVAILABLE count is at least quality.fail_spike_factor times the "
            "median of the last 20 completed dates and at least quality.fail_spike_min above "
            "it: the bank had a bad day.",
            retryable=False,
        ),
    )
}


# The codes that say the data was wrong, not that it could not be fetched: flagged for the
# banking team, never counted as PASS or FAIL (the compliance report lists them apart).
DATA_QUALITY = (
    ErrorCode.MISSING_DATA,
    ErrorCode.INVALID_RESPONSE,
    ErrorCode.NULL_BALANCE,
    ErrorCode.NEGATIVE_BALANCE,
    ErrorCode.INVALID_INPUT,
    ErrorCode.STALE_BALANCE,
    ErrorCode.CURRENCY_MISMATCH,
    ErrorCode.BALANCE_JUMP,
)

# The codes a verification rule raises over a balance that arrived (`balmon.rules`): a reject
# makes the customer UNAVAILABLE, a flag opens a case beside the PASS or FAIL.
FLAGS = (ErrorCode.BALANCE_JUMP,)
# The codes of a date as a whole (`balmon.rules.batch`): alarms, never a customer's code.
DATE_ALARMS = (ErrorCode.STALE_FEED, ErrorCode.FAIL_SPIKE, ErrorCode.UNAVAILABLE_SPIKE)


def info(code: ErrorCode | str) -> CodeInfo:
    """Return the taxonomy entry for `code` (raises KeyError for an unknown code)."""
    return CODES[ErrorCode(code)]
