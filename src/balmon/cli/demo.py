"""`balmon demo`: a day's verification against the built-in bank, with no setup."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from balmon import logs
from balmon.banksim import (
    FaultPlan,
    Population,
    SimulatorConfig,
    SimulatorThread,
    write_customers_csv,
)
from balmon.cli.common import ConfigOption, fail
from balmon.cli.run import run_verification
from balmon.clock import SystemClock
from balmon.config import Settings, load_settings
from balmon.engine import RunRequest, render
from balmon.engine.lease import Mode
from balmon.engine.state import has_completed
from balmon.errors import ConfigError
from balmon.storage import make_engine

# The story's waits, compressed 100x so the demo's retries take seconds, not minutes.
COMPRESSION = 100
DEMO_FILES = {"customers": "balmon-demo-customers.csv", "log": "balmon-demo.log"}


def _demo_settings(config: Path | None, url: str, customers: Path) -> Settings:
    base = load_settings(config)
    overrides: dict[str, Any] = {
        "source": {"url": url, "timeout_seconds": base.source.timeout_seconds / COMPRESSION},
        "retry": {"delays_seconds": [d / COMPRESSION for d in base.retry.delays_seconds]},
        "alerts": {
            "group_wait_seconds": base.alerts.group_wait_seconds / COMPRESSION,
            # With no channel of yours, alerts go to the dashboard's own inbox (Alerts page).
            "urls": [u.get_secret_value() for u in base.alerts.urls] or ["inbox://demo"],
        },
        "verification": {"customers_file": customers},
        "logging": {"file": Path(DEMO_FILES["log"])},
    }
    return load_settings(config, **overrides)


def demo_command(
    customers: Annotated[int, typer.Option("--customers", help="How many customers.")] = 10_000,
    fault_rate: Annotated[float, typer.Option("--fault-rate", help="Share given a fault.")] = 0.08,
    serve: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve the dashboard after.")
    ] = True,
    config: ConfigOption = None,
) -> None:
    """Verify a day of simulated customers into ./balmon.db, then serve the dashboard."""
    path = write_customers_csv(Path(DEMO_FILES["customers"]), customers)
    sim_config = SimulatorConfig(
        Population(generated=customers), FaultPlan({}, fault_rate, seed=42), trickle_interval=0.05
    )
    with SimulatorThread(sim_config) as simulator:
        try:
            settings = _demo_settings(config, simulator.url, path)
        except ConfigError as exc:
            fail(f"config error: {exc}", 2)
        logs.configure(settings.logging)
        day = settings.schedule.today(SystemClock().now())
        engine = make_engine(settings.database.url)
        mode: Mode = "rerun" if has_completed(engine, day) else "normal"
        engine.dispose()
        _explain(settings, simulator.url, customers, fault_rate)
        summary = run_verification(settings, RunRequest(day, mode, path))
        typer.echo("")
        typer.echo(render(summary))
        typer.echo(f"\nDatabase: {settings.database.url}   Log: {DEMO_FILES['log']}")
        if serve:
            # The simulated bank stays up while the dashboard is served, so a run started
            # from the Runs page fetches real (simulated) balances.
            _serve(settings)


def _explain(settings: Settings, url: str, customers: int, fault_rate: float) -> None:
    delays = ", ".join(f"{d:g}" for d in settings.retry.delays_seconds)
    typer.echo(
        f"balmon demo: {customers:,} simulated customers at {url}, {fault_rate:.0%} with faults"
    )
    typer.echo(
        f"time compressed {COMPRESSION}x: timeout {settings.source.timeout_seconds:g}s "
        f"(30s in production), retry delays {delays}s (5, 10, 20s in production)"
    )


def _serve(settings: Settings) -> None:
    from datetime import UTC, datetime

    from balmon import aio, service
    from balmon.dashboard import ensure_demo_user

    engine = make_engine(settings.database.url)
    user, password = ensure_demo_user(engine, datetime.now(UTC))
    url = f"http://{settings.dashboard.host}:{settings.dashboard.port}/"
    typer.echo(f"\nDashboard: {url}\nLog in as {user} / {password}   (Ctrl-C to stop)")
    # No schedule: the demo is one day's run and a dashboard to explore it.
    shutdown = aio.run(service.serve(settings=settings, engine=engine, scheduler=False))
    if shutdown.requested:
        fail(f"stopped by {shutdown.name}", shutdown.exit_code)
