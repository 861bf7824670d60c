"""`balmon demo`: a day's verification against the built-in bank, with no setup."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from balmon import logs
from balmon.banksim import (
    DailyFaults,
    Fault,
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
from balmon.engine.state import completed_in, has_completed
from balmon.errors import ConfigError
from balmon.storage import engine_for
from balmon.triage import CaseFilter, resolve_matching

# The story's waits, compressed 100x so the demo's retries take seconds, not minutes.
COMPRESSION = 100
# In the history: the share of customers failing every day, and which cases were resolved.
RECURRING = 0.01
RESOLVED_AFTER = 7
DEMO_FILES = {
    "customers": "balmon-demo-customers.csv",
    "history": "balmon-demo-history.csv",
    "log": "balmon-demo.log",
}
# The history covers the first customers of the file (the same ids), so it fills in about a
# minute on a laptop: 29 dates of all 10,000 took three and a half minutes (measured); each
# date lasts at least its slowest customer's timeouts and retries (~1.5 s) whatever its size.
HISTORY_CUSTOMERS = 1_000
# Days of the history (days before today) when the bank has a bad day as a whole, so the
# dashboard shows the day rules: a stale feed (also an UNAVAILABLE spike), and a bug that
# answers 0.00 to most customers (a FAIL spike).
BAD_DAYS = {9: (Fault("stale_feed"), 1.0), 5: (Fault("zero"), 0.8)}


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
        # The simulated bank answers in USD (and in EUR for its `currency` fault).
        "verification": {
            "customers_file": customers,
            "currency": base.verification.currency or "USD",
        },
        "logging": {"file": Path(DEMO_FILES["log"])},
    }
    return load_settings(config, **overrides)


def demo_command(
    customers: Annotated[int, typer.Option("--customers", help="How many customers.")] = 10_000,
    fault_rate: Annotated[float, typer.Option("--fault-rate", help="Share given a fault.")] = 0.08,
    serve: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve the dashboard after.")
    ] = True,
    history_days: Annotated[
        int, typer.Option("--history-days", min=0, max=60, help="Earlier dates to fill first.")
    ] = 29,
    config: ConfigOption = None,
) -> None:
    """Verify simulated customers into ./balmon.db (a history, then today), then serve the
    dashboard."""
    path = write_customers_csv(Path(DEMO_FILES["customers"]), customers)
    try:
        today = load_settings(config).schedule.today(SystemClock().now())
    except ConfigError as exc:
        fail(f"config error: {exc}", 2)
    bad_days = {(today - timedelta(days=n)).toordinal(): bad for n, bad in BAD_DAYS.items()}
    faults = DailyFaults(fault_rate, seed=42, recurring=RECURRING, bad_days=bad_days)
    sim_config = SimulatorConfig(Population(generated=customers), faults, trickle_interval=0.05)
    with SimulatorThread(sim_config) as simulator:
        try:
            settings = _demo_settings(config, simulator.url, path)
        except ConfigError as exc:
            fail(f"config error: {exc}", 2)
        logs.configure(settings.logging)
        day = settings.schedule.today(SystemClock().now())
        _explain(settings, simulator.url, customers, fault_rate)
        sample = write_customers_csv(Path(DEMO_FILES["history"]), min(customers, HISTORY_CUSTOMERS))
        _history(settings, simulator, faults, sample, day, history_days)
        faults.day = day.toordinal()
        simulator.state.requests.clear()
        engine = engine_for(settings.database)
        mode: Mode = "rerun" if has_completed(engine, day) else "normal"
        engine.dispose()
        summary = run_verification(settings, RunRequest(day, mode, path))
        typer.echo("")
        typer.echo(render(summary))
        typer.echo(f"\nDatabase: {settings.database.url}   Log: {DEMO_FILES['log']}")
        if serve:
            # The simulated bank stays up while the dashboard is served, so a run started
            # from the Runs page fetches real (simulated) balances.
            _serve(settings)


def _history(
    settings: Settings,
    simulator: SimulatorThread,
    faults: DailyFaults,
    path: Path,
    today: date,
    days: int,
) -> None:
    """Run each of the `days` dates before `today` not done yet, against a bank whose faults
    change daily, then resolve the older cases as an operations team would have."""
    engine = engine_for(settings.database)
    fast = _history_settings(settings)
    dates = [today - timedelta(days=n) for n in range(days, 0, -1)]
    finished = completed_in(engine, dates)  # one query, not a schema check per date
    todo = [d for d in dates if d not in finished]
    if todo:
        typer.echo(f"history: verifying {len(todo)} earlier business dates first...")
    started = time.monotonic()
    for day in todo:
        faults.day = day.toordinal()
        simulator.state.requests.clear()  # a new day: yesterday's flaky answers start over
        run_verification(fast, RunRequest(day, "normal", path))
    if todo:
        # Cases older than a week were dealt with; the recurring customers come back, so the
        # last week shows open cases, regressions and the problems that keep coming back.
        done = resolve_matching(
            engine,
            CaseFilter(end=today - timedelta(days=RESOLVED_AFTER), resolved=False),
            notes="Checked with the bank: data corrected upstream (demo history)",
            actor="demo-ops",
            now=datetime.now(UTC),
        )
        took = time.monotonic() - started
        typer.echo(f"history: {len(todo)} dates in {took:.0f}s, {done:,} older cases resolved\n")
    engine.dispose()


def _history_settings(settings: Settings) -> Settings:
    """History runs send their alerts at once: no group wait in front of each of 29 dates.
    (Shorter timeouts would be faster still, but a loaded laptop then times out healthy
    answers: measured, twice the cases.)"""
    alerts = settings.alerts.model_copy(update={"group_wait_seconds": 0.0})
    return settings.model_copy(update={"alerts": alerts})


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
    from balmon import aio, service
    from balmon.dashboard.auth import ensure_demo_user

    engine = engine_for(settings.database)
    user, password = ensure_demo_user(engine, datetime.now(UTC))
    url = f"http://{settings.dashboard.host}:{settings.dashboard.port}/"
    typer.echo(f"\nDashboard: {url}\nLog in as {user} / {password}   (Ctrl-C to stop)")
    # No schedule: the demo is one day's run and a dashboard to explore it.
    shutdown = aio.run(service.serve(settings=settings, engine=engine, scheduler=False))
    if shutdown.requested:
        fail(f"stopped by {shutdown.name}", shutdown.exit_code)
