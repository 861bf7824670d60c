"""The rows a run produces, as values handed from the workers to the writer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from balmon.errors import ErrorCode
from balmon.errors.traces import safe_trace
from balmon.storage.states import Status


@dataclass(frozen=True, slots=True)
class ErrorRecord:
    """One failed attempt (or one rejected input row): one `error_logs` row.

    The message and trace are kept whole; the writer cuts them to the column limits.
    """

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
    currency: str | None = None  # the balance's, when known


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """A customer that ended UNAVAILABLE: one `alerts` outbox row (deduplicated per day)."""

    customer_id: str
    code: ErrorCode
    attempts: int
    failed_at: datetime


def trace_of(exc: BaseException) -> str:
    """The exception's traceback, with its cause chain, safe to store (`errors.traces`)."""
    return safe_trace(exc)


class RecordSink(Protocol):
    """Where a worker's records go: the run's writer, or a fetcher process's pipe to it."""

    def add_error(self, record: ErrorRecord) -> None: ...

    def add_result(self, record: ResultRecord) -> None: ...

    def add_alert(self, record: AlertRecord) -> None: ...
