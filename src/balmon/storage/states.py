"""The values of the schema's status columns, as enums every layer above storage may use.

They are `StrEnum`s, so a member compares equal to the string stored in its column and can
be written to it as is.
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """A customer's outcome in a run (`verification_results.status`)."""

    PASS = "PASS"  # noqa: S105 (an outcome, not a password)
    FAIL = "FAIL"
    UNAVAILABLE = "UNAVAILABLE"


class RunStatus(StrEnum):
    """Where a run is (`verification_runs.status`)."""

    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


class DeliveryStatus(StrEnum):
    """One alert message's delivery to one channel (`alert_deliveries.status`)."""

    PENDING = "pending"  # not sent yet: the next flush tries again
    SENT = "sent"
    FAILED = "failed"  # given up for good (its channel is no longer configured)
