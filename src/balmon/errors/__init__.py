"""The error taxonomy and the exception hierarchy."""

from __future__ import annotations

from balmon.errors.exceptions import (
    ApiFailure,
    BalanceError,
    BalmonError,
    ConfigError,
    CustomerFileError,
    DeliveryError,
    GroupTaken,
    InternalFailure,
    InvalidResponse,
    LoginRequired,
    MissingData,
    NegativeBalance,
    NetworkFailure,
    NullBalance,
    RunRefused,
    SourceUnavailable,
    StorageError,
    TimeoutFailure,
    UserError,
)
from balmon.errors.taxonomy import CODES, CodeInfo, ErrorCode, Severity, info

__all__ = [
    "CODES",
    "ApiFailure",
    "BalanceError",
    "BalmonError",
    "CodeInfo",
    "ConfigError",
    "CustomerFileError",
    "DeliveryError",
    "ErrorCode",
    "GroupTaken",
    "InternalFailure",
    "InvalidResponse",
    "LoginRequired",
    "MissingData",
    "NegativeBalance",
    "NetworkFailure",
    "NullBalance",
    "RunRefused",
    "Severity",
    "SourceUnavailable",
    "StorageError",
    "TimeoutFailure",
    "UserError",
    "info",
]
