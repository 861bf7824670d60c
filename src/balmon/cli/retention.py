"""`balmon retention ...`: archive and delete what is past its limit; legal holds; restore."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from balmon.cli.common import (
    ByOption,
    ConfigOption,
    actor,
    customer_id,
    day_option,
    exit_on_error,
    fail,
    ready_engine,
    row_id,
    settings_or_exit,
)
from balmon.errors import ConfigError
from balmon.retention import Applied, apply
from balmon.retention import holds as legal
from balmon.retention.policy import TABLES
from balmon.retention.restore import restore
from balmon.storage import make_engine
from balmon.storage.database import normalize_url

app = typer.Typer(help="Retention: archive old rows, legal holds, restore.", no_args_is_help=True)
hold_app = typer.Typer(help="Legal holds: rows retention must keep.", no_args_is_help=True)
app.add_typer(hold_app, name="hold")


@app.command("apply")
def apply_command(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would go; change nothing.")
    ] = False,
    by: ByOption = None,
    config: ConfigOption = None,
) -> None:
    """Archive every row past its limit and not held, check the archive, then delete them."""
    settings = settings_or_exit(config)
    with exit_on_error():
        engine = ready_engine(settings)
        applied = apply(
            engine, settings.retention, now=datetime.now(UTC), actor=actor(by), dry_run=dry_run
        )
    _print(applied)


def _print(applied: Applied) -> None:
    policy = applied.policy
    verb = "would archive and delete" if applied.dry_run else "archived and deleted"
    what = "dry run: nothing changed" if applied.dry_run else applied.name
    typer.echo(f"retention as of {policy.today} ({what})")
    for retained in TABLES:
        name = retained.name
        files = [e for e in applied.files if e["table"] == name]
        rows = sum(e["rows"] for e in files)
        typer.echo(
            f"  {name:<22} keep {policy.keep_days[name]:>5} days (before {policy.cutoff(name)}): "
            f"{verb} {rows:,} rows"
        )
        for entry in files:
            span = _span(entry)
            typer.echo(f"    {entry['month']}: {entry['rows']:,} rows{span} -> {entry['path']}")
    for hold in applied.holds.rows:
        target = " on ".join(str(v) for v in (hold["customer_id"], hold["business_date"]) if v)
        typer.echo(f"  held: {target} (hold {hold['id']}: {hold['reason']})")
    if applied.directory is not None:
        typer.echo(f"archive: {applied.directory}")
        typer.echo(f"manifest digest (sealed and recorded): {applied.digest}")


def _span(entry: dict[str, object]) -> str:
    ids = entry.get("ids")
    if isinstance(ids, list) and ids:
        return f", ids {ids[0][0]}..{ids[-1][1]}"
    return ""


@hold_app.command("add")
def hold_add_command(
    reason: Annotated[str, typer.Option("--reason", help="Why (a case, a regulator's request).")],
    customer: Annotated[str | None, typer.Option("--customer", help="Customer id.")] = None,
    day: Annotated[str | None, typer.Option("--date", help="Business date.")] = None,
    by: ByOption = None,
    config: ConfigOption = None,
) -> None:
    """Keep a customer's rows, a date's, or a customer's on a date, whatever their age."""
    if customer is None and day is None:
        fail("hold add: give --customer, --date or both", 2)
    if not reason.strip():
        fail("hold add: --reason must say why", 2)
    settings = settings_or_exit(config)
    with exit_on_error():
        engine = ready_engine(settings)
        hold_id = legal.add(
            engine,
            customer=customer_id(customer),
            day=day_option(day, "--date"),
            reason=reason,
            actor=actor(by),
            now=datetime.now(UTC),
        )
    typer.echo(f"hold {hold_id} added")


@hold_app.command("list")
def hold_list_command(
    released: Annotated[bool, typer.Option("--all", help="Released holds too.")] = False,
    config: ConfigOption = None,
) -> None:
    """The holds in force."""
    settings = settings_or_exit(config)
    with exit_on_error():
        rows = legal.listed(ready_engine(settings), released=released)
    if not rows:
        typer.echo("no holds in force" if not released else "no holds")
    for h in rows:
        target = " on ".join(str(v) for v in (h.customer_id, h.business_date) if v)
        state = (
            f"released {h.released_at:%Y-%m-%d} by {h.released_by}: {h.release_reason}"
            if h.released_at
            else "in force"
        )
        typer.echo(
            f"{h.id}\t{target}\t{h.reason}\tby {h.created_by} {h.created_at:%Y-%m-%d}\t{state}"
        )


@hold_app.command("release")
def hold_release_command(
    hold_id: Annotated[int, typer.Argument(help="The hold's id (`hold list`).")],
    reason: Annotated[str, typer.Option("--reason", help="Why it may go now.")],
    by: ByOption = None,
    config: ConfigOption = None,
) -> None:
    """Release a hold: its rows go at the next application once past their limit."""
    if not reason.strip():
        fail("hold release: --reason must say why", 2)
    settings = settings_or_exit(config)
    with exit_on_error():
        engine = ready_engine(settings)
        legal.release(
            engine, row_id(hold_id, "hold"), reason=reason, actor=actor(by), now=datetime.now(UTC)
        )
    typer.echo(f"hold {hold_id} released")


@app.command("restore")
def restore_command(
    manifest: Annotated[Path, typer.Argument(help="An archive's manifest.json, or its directory.")],
    into: Annotated[str, typer.Option("--into", help="URL of an empty database to load into.")],
    config: ConfigOption = None,
) -> None:
    """Check an archive and load it into a separate, empty database for an investigation."""
    try:
        target = normalize_url(into)
    except ConfigError as exc:
        fail(f"--into: {exc.problem}", 2)
    settings = settings_or_exit(config)
    with exit_on_error():
        if target == normalize_url(settings.database.url):
            fail("--into: that is balmon's own database; restore into a separate one", 2)
        engine = make_engine(into)
        try:
            restored = restore(manifest, engine, now=datetime.now(UTC))
        finally:
            engine.dispose()
    typer.echo(f"restored {restored.name} (manifest digest {restored.digest}); every hash checked")
    for table, rows in sorted(restored.rows.items()):
        typer.echo(f"  {table}: {rows:,} rows")
