"""The error taxonomy and the exception hierarchy."""

from __future__ import annotations

from balmon.errors.exceptions import (
    ApiFailure,
    BalanceError,
    BalmonError,
    ConfigError,
    InvalidResponse,
    MissingData,
    NegativeBalance,
    NetworkFailure,
    NullBalance,
    RunRefused,
    SourceUnavailable,
    StorageError,
    TimeoutFailure,
)
from balmon.errors.taxonomy import CODES, CodeInfo, ErrorCode, Severity, info

__all__ = [
    "CODES",
    "ApiFailure",
    "BalanceError",
    "BalmonError",
    "CodeInfo",
    "ConfigError",
    "ErrorCode",
    "InvalidResponse",
    "MissingData",
    "NegativeBalance",
    "NetworkFailure",
    "NullBalance",
    "RunRefused",
    "Severity",
    "SourceUnavailable",
    "StorageError",
    "TimeoutFailure",
    "info",
]
