"""Where a retry is decided: the retry policy values."""

from __future__ import annotations

from balmon.retry.policy import Backoff, RetryOn, RetryPolicy, schedule

__all__ = ["Backoff", "RetryOn", "RetryPolicy", "schedule"]
