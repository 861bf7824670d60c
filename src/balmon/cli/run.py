"""`balmon run`: verify one business date."""

from __future__ import annotations

import asyncio
import sys
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from balmon import aio
from balmon.cli.common import ConfigOption, exit_on_error, fail, settings_or_exit
from balmon.clock import SystemClock
from balmon.config import Settings
from balmon.engine import RunRequest, RunSummary, render
from balmon.engine.lease import Mode
from balmon.lifecycle import Shutdown
from balmon.scheduling import run_date_refusal
from balmon.scheduling.verify import verify_date


class Executor(StrEnum):
    LOCAL = "local"
    CELERY = "celery"


def _parse_date(value: str | None, settings: Settings) -> date:
    now = SystemClock().now()
    if value is None:
        return settings.schedule.today(now)
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        fail(f"--date: expected YYYY-MM-DD, got {value!r}", 2)
    refusal = run_date_refusal(day, settings, now)
    if refusal is not None:
        fail(f"--date: {refusal}", 2)
    return day


async def _execute(settings: Settings, request: RunRequest, stopped: list[Shutdown]) -> RunSummary:
    task = asyncio.current_task()
    assert task is not None
    shutdown = Shutdown(grace=settings.engine.shutdown_grace_seconds, stop=task.cancel)
    shutdown.install()
    stopped.append(shutdown)
    return await verify_date(settings, request)


def run_verification(settings: Settings, request: RunRequest) -> RunSummary:
    """Run the date and return its summary; errors and signals end the command with one line."""
    stopped: list[Shutdown] = []
    with exit_on_error():
        try:
            return aio.run(_execute(settings, request, stopped))
        except (asyncio.CancelledError, KeyboardInterrupt):
            shutdown = stopped[0] if stopped else None
            name = shutdown.name if shutdown and shutdown.requested else "SIGINT"
            code = shutdown.exit_code if shutdown and shutdown.requested else 130
            fail(f"stopped by {name}: run the same date again to resume", code)


def run_command(
    business_date: Annotated[
        str | None, typer.Option("--date", help="Business date YYYY-MM-DD (default: today).")
    ] = None,
    customers: Annotated[
        Path | None, typer.Option("--customers", help="Customer CSV (customer_id, min_balance).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    rerun: Annotated[bool, typer.Option("--rerun", help="Run a completed date again.")] = False,
    retry_unavailable: Annotated[
        bool, typer.Option("--retry-unavailable", help="Re-check only the date's UNAVAILABLE.")
    ] = False,
    executor: Annotated[
        Executor | None,
        typer.Option(
            "--executor",
            help="local: this machine; celery: `balmon worker`s (default: engine.executor).",
        ),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Verify every customer's balance for a business date (resumes an unfinished run)."""
    settings = settings_or_exit(config)
    if executor is not None:
        engine_settings = settings.engine.model_copy(update={"executor": executor.value})
        settings = settings.model_copy(update={"engine": engine_settings})
    if rerun and retry_unavailable:
        fail("--rerun and --retry-unavailable cannot be combined", 2)
    day = _parse_date(business_date, settings)
    if settings.source.url is None:
        fail("config error: source.url: required to fetch balances (or try `balmon demo`)", 2)
    if settings.engine.executor == "celery":
        from balmon.scaleout.app import check  # before the database is touched

        with exit_on_error():
            check(settings)
    mode: Mode = "rerun" if rerun else "retry_unavailable" if retry_unavailable else "normal"
    request = RunRequest(day, mode, customers)
    summary = run_verification(settings, request)
    typer.echo(summary.to_json() if as_json else render(summary))
    sys.stdout.flush()
