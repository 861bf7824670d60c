"""The daily verification run: customers in, results, error logs and alerts out."""

from __future__ import annotations

from typing import TYPE_CHECKING

from balmon import lazy

if TYPE_CHECKING:
    from balmon.engine.run import AlertHook, RunRequest, VerificationRun
    from balmon.engine.summary import RunSummary, render, summarize

__all__ = ["AlertHook", "RunRequest", "RunSummary", "VerificationRun", "render", "summarize"]

# Loaded when first used, not with the package: a fetcher process (`engine.fetcher`) imports
# its few modules of the package without the run's database, alerting and migrations.
_HOME = {
    "AlertHook": "run",
    "RunRequest": "run",
    "VerificationRun": "run",
    "RunSummary": "summary",
    "render": "summary",
    "summarize": "summary",
}


__getattr__ = lazy.members(__name__, _HOME)
