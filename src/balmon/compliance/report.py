"""Build the compliance report for a period in one of its formats."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Engine

from balmon.audit.verify import snapshot
from balmon.compliance import as_csv, as_html
from balmon.compliance.figures import Figures, gather
from balmon.compliance.sections import sections
from balmon.config import Settings
from balmon.scheduling.calendar import Schedule


class Format(StrEnum):
    HTML = "html"
    CSV = "csv"
    PDF = "pdf"


MEDIA_TYPES = {
    Format.HTML: "text/html; charset=utf-8",
    Format.CSV: "text/csv; charset=utf-8",
    Format.PDF: "application/pdf",
}


def file_name(start: date, end: date, format: Format) -> str:
    """What a period's report file is called, wherever it is written or downloaded."""
    return f"balmon-report-{start}-to-{end}.{format.value}"


@dataclass(frozen=True)
class Report:
    figures: Figures
    body: bytes
    format: Format

    @property
    def filename(self) -> str:
        return file_name(self.figures.start, self.figures.end, self.format)

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.format]


def build(
    engine: Engine,
    settings: Settings,
    *,
    start: date,
    end: date,
    format: Format,
    now: datetime,
    age_days: int = 3,
) -> Report:
    """Gather the period's figures in one snapshot and render them."""
    with snapshot(engine) as connection:
        figures = gather(
            connection, start, end, schedule=Schedule(settings.schedule), now=now, age_days=age_days
        )
    tables = sections(figures)
    if format is Format.CSV:
        body = as_csv.render(tables)
    elif format is Format.PDF:
        from balmon.compliance import as_pdf  # fpdf and fontTools: a third of a second to load

        body = as_pdf.render(figures, tables)
    else:
        body = as_html.render(figures, tables)
    return Report(figures, body, format)
