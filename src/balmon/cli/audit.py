"""`balmon audit ...`: prove the error trail is intact, and take the digest that proves it later."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Annotated

import typer

from balmon.audit.events import take_anchor
from balmon.audit.verify import Report, snapshot, verify
from balmon.cli.common import (
    ByOption,
    ConfigOption,
    actor,
    day_option,
    exit_on_error,
    fail,
    ready_engine,
    settings_or_exit,
)

app = typer.Typer(help="The tamper-evident audit trail.", no_args_is_help=True)


@app.command("verify")
def verify_command(
    day: Annotated[str | None, typer.Option("--date", help="One business date.")] = None,
    start: Annotated[str | None, typer.Option("--from", help="First business date.")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last business date.")] = None,
    anchor: Annotated[
        str | None, typer.Option("--anchor", help="A digest from `audit anchor` to check.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The report as JSON.")] = False,
    config: ConfigOption = None,
) -> None:
    """Recompute every hash chain and seal in range; exit 0 when intact, 1 when not."""
    if day is not None and (start is not None or end is not None):
        fail("--date cannot be combined with --from/--to", 2)
    first, last = (
        (day_option(day, "--date"),) * 2
        if day
        else (day_option(start, "--from"), day_option(end, "--to"))
    )
    if first and last and first > last:
        fail("--from is after --to", 2)
    if anchor is not None and (len(anchor) != 64 or anchor.strip("0123456789abcdef")):
        fail("--anchor: expected the 64 hex digits `balmon audit anchor` printed", 2)
    settings = settings_or_exit(config)
    with exit_on_error():
        engine = ready_engine(settings)
        began = time.perf_counter()
        with snapshot(engine) as connection:
            report = verify(connection, start=first, end=last, anchor=anchor)
        took = time.perf_counter() - began
    if as_json:
        typer.echo(json.dumps(report.as_dict() | {"seconds": round(took, 3)}, indent=2))
    else:
        _print(report, took)
    raise typer.Exit(0 if report.intact else 1)


def _print(report: Report, took: float) -> None:
    span = (
        "every date"
        if report.start is None and report.end is None
        else f"{report.start or 'the start'} to {report.end or 'today'}"
    )
    typer.echo(
        f"checked {report.rows:,} rows in {report.segments:,} segments ({span}) and "
        f"{report.seals:,} seals in {took:.1f}s"
    )
    if report.manifests:
        typer.echo(
            f"and {report.manifests:,} retention manifests ({report.archived_rows:,} rows "
            "archived): their digests, seals and rows gone as they say"
        )
    for finding in report.findings:
        where = f" {finding.segment}" if finding.segment else ""
        typer.echo(f"BROKEN {finding.problem}: {finding.table}{where}: {finding.detail}")
    for segment in report.open_segments:
        typer.echo(f"open (its run is still running): {segment}")
    if report.anchor is not None and report.anchor_found:
        scope = "" if report.start is None and report.end is None else " in the dates checked"
        typer.echo(
            f"anchor {report.anchor[:16]}… found: no seal before it changed, and no row{scope}"
        )
    typer.echo("intact" if report.intact else f"NOT intact: {len(report.findings)} problems")


@app.command("anchor")
def anchor_command(
    by: ByOption = None,
    config: ConfigOption = None,
) -> None:
    """Print (and record) one digest over every seal to date, to keep outside the database."""
    settings = settings_or_exit(config)
    with exit_on_error():
        engine = ready_engine(settings)
        seals, digest = take_anchor(engine, actor=actor(by), now=datetime.now(UTC))
    typer.echo(digest)
    typer.echo(
        f"covers {seals:,} seals as of {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; keep it outside "
        "the database, then prove nothing before it changed with "
        f"`balmon audit verify --anchor {digest[:8]}…`",
        err=True,
    )
