"""`balmon db ...`: schema migrations."""

from __future__ import annotations

from typing import Annotated

import typer

from balmon.cli.common import ConfigOption, exit_on_error, settings_or_exit
from balmon.storage import engine_for, make_engine, upgrade
from balmon.storage.database import Timeouts
from balmon.storage.migrate import current_revision, head_revision, upgrade_sql

app = typer.Typer(help="Database schema commands.", no_args_is_help=True)


@app.command("upgrade")
def upgrade_command(
    sql: Annotated[
        bool, typer.Option("--sql", help="Print the SQL for a DBA to review; apply nothing.")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Create or migrate the schema to the newest revision and seed the error codes."""
    settings = settings_or_exit(config)
    with exit_on_error():
        # No statement limit: building an index on a large table may take longer.
        limits = Timeouts.of(settings.database)
        limits.statement = 0
        engine = make_engine(settings.database.url, timeouts=limits)
        if sql:
            typer.echo(upgrade_sql(engine), nl=False)
            return
        upgrade(engine)
        typer.echo(
            f"database at revision {current_revision(engine)} ({engine.url.get_backend_name()})"
        )


@app.command("current")
def current_command(config: ConfigOption = None) -> None:
    """Show the database's schema revision and the newest one available."""
    settings = settings_or_exit(config)
    with exit_on_error():
        engine = engine_for(settings.database)
        typer.echo(f"current: {current_revision(engine) or 'empty'}  head: {head_revision()}")
