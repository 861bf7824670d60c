"""`balmon config ...`: check a configuration and print the reference."""

from __future__ import annotations

import typer

from balmon.cli.common import ConfigOption, exit_on_error, settings_or_exit
from balmon.config.loader import config_path
from balmon.config.reference import render_markdown
from balmon.storage.database import normalize_url

app = typer.Typer(help="Configuration: check it, print the reference.", no_args_is_help=True)


@app.command("check")
def check_command(config: ConfigOption = None) -> None:
    """Validate the configuration; exit 2 with one line naming the first bad key."""
    settings = settings_or_exit(config)
    with exit_on_error():
        # What a run would refuse: a database URL no shipped driver can open.
        normalize_url(settings.database.url)
    path = config_path(config)
    typer.echo(f"configuration ok ({path if path else 'built-in defaults'})")


@app.command("reference")
def reference_command() -> None:
    """Print docs/configuration.md: every key, its type, default and environment variable."""
    typer.echo(render_markdown(), nl=False)
