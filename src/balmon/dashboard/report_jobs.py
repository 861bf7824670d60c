"""Compliance reports built in the background: a long period's report (it verifies the audit
trail of every row in it) takes seconds to tens of seconds, longer than a browser should wait
on a bare download. Each report is built in a process of its own; the page shows that it is
being built and links the file when it is ready.

Jobs live in this web process (a replica's jobs are its own); their files in a private
temporary folder, removed when the process ends (the builders are daemons: they end with it).
"""

from __future__ import annotations

import atexit
import multiprocessing
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from multiprocessing.process import BaseProcess
from pathlib import Path

from balmon.compliance.report import Format, file_name
from balmon.config import Settings

# Jobs kept per web process: the oldest finished ones go first beyond this.
KEEP = 50


@dataclass
class ReportJob:
    id: str
    start: date
    end: date
    format: Format
    requested_by: str
    process: BaseProcess
    path: Path
    started: float

    @property
    def state(self) -> str:
        """building, ready or failed."""
        if self.process.exitcode is None:
            return "building"
        return "ready" if self.process.exitcode == 0 and self.path.exists() else "failed"

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.started

    @property
    def filename(self) -> str:
        return file_name(self.start, self.end, self.format)


class ReportJobs:
    """The report jobs of this web process."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._folder: Path | None = None
        self._jobs: dict[str, ReportJob] = {}

    def _files(self) -> Path:
        if self._folder is None:  # made on the first report, gone when the process ends
            self._folder = Path(tempfile.mkdtemp(prefix="balmon-reports-"))
            atexit.register(shutil.rmtree, self._folder, True)
        return self._folder

    def start(self, *, start: date, end: date, format: Format, who: str) -> ReportJob:
        """Start building the period's report; returns at once."""
        self._forget_old()
        job_id = secrets.token_urlsafe(12)
        path = self._files() / f"{job_id}.{format.value}"
        context = multiprocessing.get_context("spawn")
        # A daemon: it ends with this process (its file would be gone with the folder anyway).
        process = context.Process(
            target=_build,
            args=(self._settings, start, end, format, path),
            name=f"balmon-report-{job_id}",
            daemon=True,
        )
        process.start()
        job = ReportJob(job_id, start, end, format, who, process, path, time.monotonic())
        self._jobs[job_id] = job
        return job

    def get(self, job_id: str, who: str) -> ReportJob | None:
        """The job, for the admin who asked for it only (a report holds bank data)."""
        job = self._jobs.get(job_id)
        return job if job is not None and job.requested_by == who else None

    def _forget_old(self) -> None:
        finished = [j for j in self._jobs.values() if j.state != "building"]
        for job in sorted(finished, key=lambda j: j.started)[: max(0, len(self._jobs) - KEEP)]:
            job.path.unlink(missing_ok=True)
            del self._jobs[job.id]


def _build(settings: Settings, start: date, end: date, format: Format, path: Path) -> None:
    """The job's process: build the report and write it, or exit non-zero."""
    from balmon.compliance.report import build
    from balmon.storage import engine_for

    engine = engine_for(settings.database, read_cache=False)
    try:
        report = build(engine, settings, start=start, end=end, format=format, now=_now())
    finally:
        engine.dispose()
    partial = path.with_suffix(".part")
    partial.write_bytes(report.body)
    partial.replace(path)  # whole or absent: a half-written file is never offered


def _now() -> datetime:
    return datetime.now(UTC)
