"""`balmon report`: the compliance report for a period, as HTML, CSV or PDF."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from balmon.cli.common import (
    ConfigOption,
    day_option,
    exit_on_error,
    fail,
    ready_engine,
    settings_or_exit,
)
from balmon.compliance.report import Format, build


def report_command(
    start: Annotated[str, typer.Option("--from", help="First business date (YYYY-MM-DD).")],
    end: Annotated[str, typer.Option("--to", help="Last business date (YYYY-MM-DD).")],
    format: Annotated[Format, typer.Option("--format", help="html, csv or pdf.")] = Format.HTML,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="File to write (default: stdout).")
    ] = None,
    age_days: Annotated[
        int, typer.Option("--age-days", min=0, help="List unresolved HIGH/CRITICAL cases older.")
    ] = 3,
    config: ConfigOption = None,
) -> None:
    """The compliance report: runs, outcomes, errors, resolutions, alerts, retention, and the
    audit trail verified over the period, with the anchor digest."""
    first, last = day_option(start, "--from"), day_option(end, "--to")
    assert first is not None
    assert last is not None
    if first > last:
        fail("--from is after --to", 2)
    if output is None and format is Format.PDF and sys.stdout.isatty():
        fail("--format pdf: give -o FILE (a PDF is not for a terminal)", 2)
    settings = settings_or_exit(config)
    with exit_on_error():
        engine = ready_engine(settings)
        report = build(
            engine, settings, start=first, end=last, format=format, now=datetime.now(UTC),
            age_days=age_days,
        )  # fmt: skip
    if output is None:
        sys.stdout.buffer.write(report.body)
        sys.stdout.flush()
    else:
        try:
            output.write_bytes(report.body)
        except OSError as exc:
            fail(f"-o: cannot write {output}: {exc.strerror}", 1)
        verified = "intact" if report.figures.verify.get("intact") else "NOT INTACT"
        typer.echo(
            f"wrote {output} ({len(report.body):,} bytes); audit trail over the period: "
            f"{verified}; anchor {report.figures.verify.get('anchor')}",
            err=True,
        )
    raise typer.Exit(0)
