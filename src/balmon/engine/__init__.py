"""The daily verification run: customers in, results, error logs and alerts out."""

from __future__ import annotations

from balmon.engine.run import AlertHook, RunRequest, VerificationRun
from balmon.engine.summary import RunSummary, render, summarize

__all__ = ["AlertHook", "RunRequest", "RunSummary", "VerificationRun", "render", "summarize"]
