"""`balmon serve`, `balmon scheduler` and `balmon check`: running balmon unattended."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

import typer
from sqlalchemy import Engine

from balmon import aio
from balmon.cli.common import ConfigOption, exit_on_error, fail, ready_engine, settings_or_exit
from balmon.config import Settings
from balmon.engine.state import DateState, date_status
from balmon.lifecycle import Shutdown
from balmon.scheduling.calendar import Schedule


def _schema(settings: Settings) -> Engine:
    with exit_on_error():
        return ready_engine(settings)


def _require_runnable(settings: Settings) -> None:
    """A scheduler that cannot fetch anything would fail every day: refuse to start it."""
    if not settings.schedule.enabled:
        fail("config error: schedule.enabled: the schedule is disabled", 2)
    if settings.source.url is None:
        fail("config error: source.url: required by the scheduler (or use --no-scheduler)", 2)
    if settings.verification.customers_file is None:
        fail(
            "config error: verification.customers_file: required by the scheduler "
            "(or use --no-scheduler)",
            2,
        )


def _stopped(shutdown: Shutdown) -> None:
    if shutdown.requested:
        fail(f"stopped by {shutdown.name}", shutdown.exit_code)


def serve_command(
    scheduler: Annotated[
        bool,
        typer.Option(
            "--scheduler/--no-scheduler",
            help="Also run the daily schedule in this process (off for dashboard-only replicas).",
        ),
    ] = True,
    config: ConfigOption = None,
) -> None:
    """Serve the dashboard and JSON API, and run the daily schedule."""
    settings = settings_or_exit(config)
    scheduling = scheduler and settings.schedule.enabled
    if scheduling:
        _require_runnable(settings)
    engine = _schema(settings)
    what = "dashboard and scheduler" if scheduling else "dashboard"
    typer.echo(f"balmon {what} on http://{settings.dashboard.host}:{settings.dashboard.port}/")
    from balmon import service  # uvicorn and the dashboard: only these two commands load them

    with exit_on_error():
        shutdown = aio.run(service.serve(settings=settings, engine=engine, scheduler=scheduling))
    _stopped(shutdown)


def scheduler_command(config: ConfigOption = None) -> None:
    """Run the daily schedule without the web server."""
    settings = settings_or_exit(config)
    _require_runnable(settings)
    engine = _schema(settings)
    typer.echo(f"balmon scheduler: cron {settings.schedule.cron!r} ({settings.schedule.timezone})")
    from balmon import service

    with exit_on_error():
        shutdown = aio.run(service.run_scheduler(settings=settings, engine=engine))
    _stopped(shutdown)


def check_command(
    business_date: Annotated[
        str, typer.Option("--date", help="Business date YYYY-MM-DD to check.")
    ],
    config: ConfigOption = None,
) -> None:
    """Exit 0 when the date's run completed, 1 otherwise; one line says why."""
    settings = settings_or_exit(config)
    try:
        day = date.fromisoformat(business_date)
    except ValueError:
        fail(f"--date: expected YYYY-MM-DD, got {business_date!r}", 2)
    engine = _schema(settings)
    with exit_on_error(), engine.connect() as connection:
        status = date_status(
            connection,
            day,
            now=datetime.now(UTC),
            stale_after=settings.engine.stale_after_seconds,
        )
    calendar = Schedule(settings.schedule).calendar
    if status.state is DateState.MISSING and not calendar.is_business_day(day):
        # A daily "yesterday" check must not fail every Monday and after every holiday.
        typer.echo(f"{day}: not a business date (weekend or holiday in [schedule]); no run due")
        raise typer.Exit(0)
    typer.echo(status.describe())
    raise typer.Exit(0 if status.state is DateState.COMPLETED else 1)
