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


class ChunkStatus(StrEnum):
    """Where one chunk of a distributed run is (`run_chunks.status`)."""

    PENDING = "pending"  # recorded, perhaps sent, no worker has it
    RUNNING = "running"  # a worker claimed it (`deliveries` counts the claims)
    DONE = "done"  # every customer of it has a result
    POISONED = "poisoned"  # delivered `max_deliveries` times without finishing


class RunKind(StrEnum):
    """What a run verifies (`verification_runs.kind`)."""

    FULL = "full"  # every customer of the file
    RERUN = "rerun"  # every customer again, for a date already completed
    RETRY_UNAVAILABLE = "retry_unavailable"  # only the date's UNAVAILABLE customers


class CaseAction(StrEnum):
    """What a person did to a case (`case_events.action`), besides resolving it."""

    ACKNOWLEDGED = "acknowledged"  # "I'm on it": escalation stops
    ASSIGNED = "assigned"  # given an owner (`owner`)
    UNASSIGNED = "unassigned"
    COMMENT = "comment"  # a note, on an open or a resolved case


class AlarmReason(StrEnum):
    """Why a business date was alarmed (`run_alarms.reason`)."""

    MISSED = "missed"  # past its deadline and not completed
    FAILED = "failed"  # its run failed


class DeliveryStatus(StrEnum):
    """One alert message's delivery to one channel (`alert_deliveries.status`)."""

    PENDING = "pending"  # not sent yet: the next flush tries again
    SENT = "sent"
    FAILED = "failed"  # given up for good (its channel is no longer configured)
