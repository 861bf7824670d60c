"""`balmon silences ...`: hold back alerts for a known issue, list and expire silences."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated

import typer

from balmon.cli.common import (
    ByOption,
    ConfigOption,
    actor,
    customer_id,
    exit_on_error,
    fail,
    ready_engine,
    row_id,
    settings_or_exit,
)
from balmon.errors import CODES, UserError
from balmon.triage import silences

app = typer.Typer(help="Silences: known issues not to alert about.", no_args_is_help=True)


def _expiry(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.combine(date.fromisoformat(value), time(), tzinfo=UTC)
    except ValueError:
        fail(f"--expires: expected YYYY-MM-DD, got {value!r}", 2)


@app.command("add")
def add_command(
    reason: Annotated[str, typer.Option("--reason", help="Why no alert is needed.")],
    customer: Annotated[str | None, typer.Option("--customer", help="Customer id.")] = None,
    code: Annotated[str | None, typer.Option("--code", help="Error code.")] = None,
    expires: Annotated[
        str | None, typer.Option("--expires", help="End at the start of this date (UTC).")
    ] = None,
    by: ByOption = None,
    config: ConfigOption = None,
) -> None:
    """Hold back alerts for a customer, a code, or both; they are still verified and logged."""
    if code is not None and code not in {c.value for c in CODES}:
        fail(f"--code: unknown error code {code!r} (see `balmon codes`)", 2)
    settings = settings_or_exit(config)
    new = silences.NewSilence(customer_id(customer), code, reason, _expiry(expires))
    with exit_on_error():
        engine = ready_engine(settings)
        try:
            silence_id = silences.add(engine, new, actor=actor(by), now=datetime.now(UTC))
        except UserError as exc:
            fail(str(exc), 2)
    typer.echo(f"silence {silence_id} added")


@app.command("list")
def list_command(
    show_all: Annotated[bool, typer.Option("--all", help="Expired ones too.")] = False,
    config: ConfigOption = None,
) -> None:
    """Silences in force (or all), newest first, with who added or expired them."""
    settings = settings_or_exit(config)
    with exit_on_error():
        engine = ready_engine(settings)
        with engine.connect() as c:
            items = silences.listing(c, now=datetime.now(UTC), active_only=not show_all)
    for s in items:
        until = s["expires_at"][:10] if s["expires_at"] else "no expiry"
        state = "in force" if s["active"] else f"ended {(s['expired_at'] or s['expires_at'])[:19]}"
        typer.echo(
            f"{s['id']:>5}  {s['customer_id'] or '*':<20} {s['error_code'] or '*':<18} "
            f"{until:<10}  {state:<28} by {s['created_by']}: {s['reason']}"
        )


@app.command("expire")
def expire_command(
    silence_id: Annotated[int, typer.Argument(help="The silence's id.")],
    by: ByOption = None,
    config: ConfigOption = None,
) -> None:
    """End a silence now (it stays on record with who ended it)."""
    settings = settings_or_exit(config)
    with exit_on_error():
        engine = ready_engine(settings)
        done = silences.expire(
            engine, row_id(silence_id, "silence in force"), actor=actor(by), now=datetime.now(UTC)
        )
    if not done:
        fail(f"no silence {silence_id} in force", 1)
    typer.echo(f"silence {silence_id} expired")
