"""`balmon alerts ...`: deliver, inspect and test the alert outbox."""

from __future__ import annotations

from typing import Annotated

import typer

from balmon import aio
from balmon.alerts import AlertPipeline, outbox
from balmon.cli.common import (
    ConfigOption,
    exit_on_error,
    fail,
    ready_engine,
    settings_or_exit,
)
from balmon.clock import SystemClock
from balmon.config import Settings

app = typer.Typer(help="The alert outbox: flush, list, test.", no_args_is_help=True)


def _pipeline(settings: Settings) -> AlertPipeline:
    return AlertPipeline(
        engine=ready_engine(settings),
        settings=settings.alerts,
        clock=SystemClock(),
        regression_days=settings.triage.regression_days,
        escalation=settings.escalation,
        digest=settings.digest,
        timezone=settings.schedule.timezone,
    )


@app.command("flush")
def flush_command(config: ConfigOption = None) -> None:
    """Group waiting alerts and deliver every pending message; exit 1 if some stay pending
    (those another process is sending at the time are its to report)."""
    settings = settings_or_exit(config)
    with exit_on_error():
        report = aio.run(_pipeline(settings).flush())
    elsewhere = f", being sent by another process {report.sending}" if report.sending else ""
    typer.echo(
        f"messages created {report.messages}, deliveries sent {report.sent}, "
        f"pending {report.pending}, failed {report.failed}{elsewhere}"
    )
    if report.pending:
        fail(f"{report.pending} deliveries still pending", 1)


@app.command("test")
def send_test_command(config: ConfigOption = None) -> None:
    """Send a test message to every configured channel and report each one."""
    settings = settings_or_exit(config)
    if not settings.alerts.urls:
        fail("config error: alerts.urls: no channel configured", 2)
    with exit_on_error():
        outcomes = aio.run(_pipeline(settings).send_test())
    for channel, error in outcomes.items():
        typer.echo(f"{channel}: {'ok' if error is None else 'FAILED: ' + error}")
    if any(error is not None for error in outcomes.values()):
        raise typer.Exit(1)


@app.command("list")
def list_command(
    pending: Annotated[bool, typer.Option("--pending", help="Only pending deliveries.")] = False,
    limit: Annotated[int, typer.Option("--limit", help="How many rows.")] = 50,
    config: ConfigOption = None,
) -> None:
    """Show the newest messages of the outbox with each channel's delivery state."""
    settings = settings_or_exit(config)
    with exit_on_error():
        engine = ready_engine(settings)
        with engine.connect() as connection:
            rows = outbox.listing(connection, pending_only=pending, limit=limit)
    widths = (5, 19, 7, 18, 5, 32, 8, 5)
    typer.echo(
        _row(
            widths,
            "MSG",
            "CREATED (UTC)",
            "KIND",
            "CODE",
            "CUST",
            "CHANNEL",
            "STATUS",
            "TRIES",
            "LAST ERROR",
        )
    )
    for r in rows:
        created = r.created_at.strftime("%Y-%m-%d %H:%M:%S")
        message = (r.id, created, r.kind, r.error_code or "-", r.customers_count)
        delivery = (
            r.channel or "(no channel)",
            r.status or "-",
            r.attempts or 0,
            r.last_error or "",
        )
        typer.echo(_row(widths, *message, *delivery))


def _row(widths: tuple[int, ...], *cells: object) -> str:
    fixed = [f"{cell!s:<{width}}" for cell, width in zip(cells, widths, strict=False)]
    return "  ".join([*fixed, *(str(c) for c in cells[len(widths) :])])
