"""The rows a run produces, as values handed from the workers to the writer."""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from balmon.errors import ErrorCode

MAX_MESSAGE = 500
MAX_TRACE = 8000


class Status(StrEnum):
    PASS = "PASS"  # noqa: S105 (an outcome, not a password)
    FAIL = "FAIL"
    UNAVAILABLE = "UNAVAILABLE"


@dataclass(frozen=True, slots=True)
class ErrorRecord:
    """One failed attempt (or one rejected input row): one `error_logs` row."""

    customer_id: str | None
    code: ErrorCode
    message: str
    retry_count: int
    logged_at: datetime
    stack_trace: str | None = None
    source_line: int | None = None


@dataclass(frozen=True, slots=True)
class ResultRecord:
    """A customer's outcome in this run: one `verification_results` row."""

    customer_id: str
    status: Status
    balance: Decimal | None
    min_balance: Decimal
    code: ErrorCode | None
    attempts: int
    checked_at: datetime


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """A customer that ended UNAVAILABLE: one `alerts` outbox row (deduplicated per day)."""

    customer_id: str
    code: ErrorCode
    attempts: int
    failed_at: datetime


def bounded_trace(exc: BaseException) -> str:
    """The exception's traceback (with its cause chain), keeping the most recent part."""
    text = "".join(traceback.format_exception(exc))
    return text if len(text) <= MAX_TRACE else "...\n" + text[-MAX_TRACE:]


def bounded_message(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 3] + "..."
