"""The taxonomy holds the story's codes with their severities and retry defaults."""

from __future__ import annotations

from balmon.errors import CODES, ErrorCode, Severity, info
from balmon.errors.exceptions import (
    ApiFailure,
    BalanceError,
    InvalidResponse,
    MissingData,
    NetworkFailure,
    Rejected,
    SourceUnavailable,
    TimeoutFailure,
)

STORY = {
    "TIMEOUT": Severity.HIGH,
    "MISSING_DATA": Severity.MEDIUM,
    "INVALID_RESPONSE": Severity.HIGH,
    "API_ERROR": Severity.MEDIUM,
    "NETWORK_ERROR": Severity.HIGH,
    "NULL_BALANCE": Severity.LOW,
    "NEGATIVE_BALANCE": Severity.MEDIUM,
}
RETRYABLE = {"TIMEOUT", "NETWORK_ERROR", "API_ERROR", "INVALID_RESPONSE", "MISSING_DATA"}


def test_story_codes_keep_their_severity() -> None:
    for code, severity in STORY.items():
        assert info(code).severity is severity


def test_the_data_quality_codes_have_the_issue_s_severities_and_are_never_retried() -> None:
    wanted = {
        "STALE_BALANCE": Severity.MEDIUM,
        "CURRENCY_MISMATCH": Severity.HIGH,
        "BALANCE_JUMP": Severity.MEDIUM,
        "STALE_FEED": Severity.CRITICAL,
        "FAIL_SPIKE": Severity.HIGH,
        "UNAVAILABLE_SPIKE": Severity.HIGH,
    }
    for code, severity in wanted.items():
        assert info(code).severity is severity
        assert not info(code).retryable


def test_retryable_defaults() -> None:
    assert {c.value for c, e in CODES.items() if e.retryable} == RETRYABLE
    assert ErrorCode.SOURCE_UNAVAILABLE in CODES
    assert all(entry.root_cause and entry.suggested_action for entry in CODES.values())


def test_every_failure_class_carries_its_code() -> None:
    classes: dict[type[BalanceError], str] = {
        TimeoutFailure: "TIMEOUT",
        NetworkFailure: "NETWORK_ERROR",
        MissingData: "MISSING_DATA",
        InvalidResponse: "INVALID_RESPONSE",
        SourceUnavailable: "SOURCE_UNAVAILABLE",
    }
    for cls, code in classes.items():
        assert cls("x").code == code
    assert ApiFailure("x", status=503).code == "API_ERROR"
    assert Rejected(ErrorCode.STALE_BALANCE, "x").code == "STALE_BALANCE"
    assert len(BalanceError("m" * 2000).message) == 500


def test_the_drawn_exception_tree_names_every_exception() -> None:
    import inspect

    from balmon.errors import exceptions

    drawn = exceptions.__doc__ or ""
    classes = [
        name
        for name, value in vars(exceptions).items()
        if inspect.isclass(value)
        and issubclass(value, exceptions.BalmonError)
        and value is not exceptions.BalmonError
    ]
    assert len(classes) > 10
    assert [name for name in classes if f"── {name} " not in drawn] == []
