"""The `balmon` command line."""

from __future__ import annotations

from typing import Annotated

import typer

from balmon import __version__
from balmon.cli import alerts, audit, config, dashboard, db, retention, service, silences
from balmon.cli.bank_sim import bank_sim_command
from balmon.cli.demo import demo_command
from balmon.cli.report import report_command
from balmon.cli.run import run_command
from balmon.cli.worker import worker_command
from balmon.errors.reference import render_markdown, render_text

app = typer.Typer(
    name="balmon",
    help="Daily balance monitoring: fetch, verify, log every error, alert the operations team.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
)
app.add_typer(db.app, name="db")
app.add_typer(config.app, name="config")
app.add_typer(alerts.app, name="alerts")
app.add_typer(silences.app, name="silences")
app.add_typer(audit.app, name="audit")
app.add_typer(retention.app, name="retention")
app.add_typer(dashboard.users_app, name="users")
app.add_typer(dashboard.tokens_app, name="tokens")
app.command("serve")(service.serve_command)
app.command("scheduler")(service.scheduler_command)
app.command("check")(service.check_command)
app.command("run")(run_command)
app.command("worker")(worker_command)
app.command("bank-sim")(bank_sim_command)
app.command("demo")(demo_command)
app.command("report")(report_command)


@app.command("codes")
def codes_command(
    markdown: Annotated[
        bool, typer.Option("--markdown", help="Print docs/error-codes.md instead.")
    ] = False,
) -> None:
    """Print the error-code reference."""
    typer.echo(render_markdown() if markdown else render_text())


@app.command("version")
def version_command() -> None:
    """Print balmon's version."""
    typer.echo(__version__)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"balmon {__version__}")
        raise typer.Exit(0)


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    """Daily balance monitoring: fetch, verify, log every error, alert the operations team."""


def main() -> None:
    """Entry point of the console script."""
    app()
