"""The compliance report against a seeded period with known counts: every figure, in every
format, on every backend; the PDF rendered to PNG pages."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pytest
from sqlalchemy import Engine, insert, select, text, update

from balmon.compliance.report import Format, build
from balmon.config import Settings
from balmon.retention import holds as legal
from balmon.storage.schema import alert_deliveries, alert_messages, alerts, cases, quality_alarms
from balmon.triage import resolve_case
from tests.audit.test_chain import _drop_triggers, _run
from tests.conftest import on_backends
from tests.engine.helpers import fast_settings

DAYS = [date(2026, 10, 5) + timedelta(days=n) for n in range(3)]
MISSED = date(2026, 10, 8)  # due, never run
LATER = datetime.now(UTC) + timedelta(days=4, hours=1)  # when the report is made


def _seed(engine: Engine, tmp_path: Path) -> None:
    """Per date (`_run`): 9 customers, 7 PASS (R1 after a retry), T1 UNAVAILABLE after four
    TIMEOUTs, N1 UNAVAILABLE with NULL_BALANCE, and one bad line (INVALID_INPUT): 7 error log
    rows and 4 cases (the bad line is one too). On the first date, T1's case is resolved 2 h
    after it was first seen and N1's after 4 h; one message was sent about it, one delivery
    sent and one failed."""
    for day in DAYS:
        _run(engine, tmp_path, day)
    with engine.connect() as c:
        first = {
            row.customer_id: row
            for row in c.execute(select(cases).where(cases.c.business_date == DAYS[0]))
        }
    for customer, hours in (("T1", 2), ("N1", 4)):
        row = first[customer]
        at = row.first_seen + timedelta(hours=hours)
        assert resolve_case(engine, row.id, notes="handled", actor="ops", now=at)
    at = datetime(2026, 10, 6, 7, 0, tzinfo=UTC)
    with engine.begin() as c:
        message = c.execute(
            insert(alert_messages).values(
                kind="customer", business_date=DAYS[0], title="t", body="b", created_at=at
            )
        ).inserted_primary_key[0]
        for channel, status in (("mailto:ops", "sent"), ("slack://x", "failed")):
            c.execute(
                insert(alert_deliveries).values(
                    message_id=message,
                    channel=channel,
                    status=status,
                    created_at=at,
                    updated_at=at,
                )
            )
        c.execute(
            update(alerts).where(alerts.c.business_date == DAYS[0]).values(message_id=message)
        )
        c.execute(
            insert(quality_alarms).values(
                business_date=DAYS[1],
                code="FAIL_SPIKE",
                detail="60 FAILs against a median of 2",
                raised_by="test",
                raised_at=at,
            )
        )
    legal.add(engine, customer="T1", day=None, reason="litigation 42", actor="legal", now=at)


# (section, row): each row as the report prints it.
EXPECTED: list[tuple[str, tuple[str, ...]]] = [
    ("summary", ("Business dates due", "4")),
    ("summary", ("Dates with a completed run", "3")),
    ("summary", ("Missed dates", str(MISSED))),
    ("summary", ("Runs", "3")),
    ("summary", ("Customers verified", "9")),
    ("summary", ("PASS", "21")),
    ("summary", ("FAIL", "0")),
    ("summary", ("UNAVAILABLE", "6")),
    ("summary", ("Error log rows", "21")),
    ("summary", ("Customers affected", "4")),
    ("summary", ("Cases", "12")),
    ("summary", ("Cases resolved", "2")),
    ("summary", ("Unresolved HIGH/CRITICAL cases older than 3 days", "2")),
    ("summary", ("Alerts raised", "6")),
    ("summary", ("Alert deliveries sent", "1")),
    ("summary", ("Alert deliveries failed", "1")),
    ("summary", ("Audit trail", "intact")),
    ("errors_by_code", ("INVALID_INPUT", "MEDIUM", "3", "1")),
    ("errors_by_code", ("NULL_BALANCE", "LOW", "3", "1")),
    ("errors_by_code", ("TIMEOUT", "HIGH", "15", "2")),
    *(("errors_by_day", (str(day), "1", "1", "5", "7")) for day in DAYS),
    ("data_quality", ("NULL_BALANCE", "3", "1")),
    ("data_quality", ("INVALID_INPUT", "3", "1")),
    ("data_quality", ("NEGATIVE_BALANCE", "0", "0")),
    ("data_quality", ("STALE_BALANCE", "0", "0")),
    ("data_quality_alarms", (str(DAYS[1]), "FAIL_SPIKE", "60 FAILs against a median of 2")),
    # T1 resolved 2 h and N1 4 h after their first failed attempts; none acknowledged.
    ("open_times", ("Time to resolve", "2", "3.00", "4.00")),
    ("open_times", ("Time to acknowledge", "0", "-", "-")),
    ("resolution_by_code", ("NULL_BALANCE", "LOW", "3", "1", "33.3%", "4.00")),
    ("resolution_by_code", ("TIMEOUT", "HIGH", "6", "1", "16.7%", "2.00")),
    ("resolution_by_severity", ("LOW", "3", "1", "33.3%", "4.00")),
    ("resolution_by_severity", ("HIGH", "6", "1", "16.7%", "2.00")),
    *(("open_urgent", (str(day), "T1", "TIMEOUT", "HIGH", "4")) for day in DAYS[1:]),
    ("alerts", ("Alerts raised", "6")),
    ("alerts", ("Messages", "1")),
    ("alerts", ("Deliveries sent", "1")),
    ("alerts", ("Deliveries failed", "1")),
    ("alerts", ("Deliveries pending", "0")),
    ("holds", ("1", "T1", "any", "litigation 42", "legal", "2026-10-06 07:00:00Z")),
    ("verify", ("Result", "intact")),
]


def _settings(engine: Engine) -> Settings:
    return fast_settings(engine.url.render_as_string(hide_password=False))


def _report(engine: Engine, fmt: Format) -> Any:
    return build(
        engine, _settings(engine), start=DAYS[0], end=MISSED, format=fmt, now=LATER, age_days=3
    )


def _csv_rows(body: bytes) -> set[tuple[str, ...]]:
    return {tuple(row) for row in csv.reader(io.StringIO(body.decode()))}


class _Tables(HTMLParser):
    """Rows of the report's tables, by the id of the heading before them."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, list[tuple[str, ...]]] = {}
        self.section = ""
        self.row: list[str] | None = None
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "h2":
            self.section = dict(attrs).get("id") or ""
        elif tag == "tr":
            self.row = []
        elif tag in ("td", "th"):
            self.cell = []

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self.cell is not None and self.row is not None:
            self.row.append("".join(self.cell))
            self.cell = None
        elif tag == "tr" and self.row is not None:
            self.rows.setdefault(self.section, []).append(tuple(self.row))
            self.row = None


@on_backends()
def test_every_figure_of_a_seeded_period(engine: Engine, tmp_path: Path) -> None:
    _seed(engine, tmp_path)
    report = _report(engine, Format.CSV)
    rows = _csv_rows(report.body)
    for section, row in EXPECTED:
        for column, cell in zip(_columns(report, section)[1:], row[1:], strict=True):
            assert (section, row[0], column, cell) in rows, (section, row, column)
    anchor = report.figures.verify["anchor"]
    assert ("verify", "Anchor digest", "Value", anchor) in rows and len(anchor) == 64


def _columns(report: Any, key: str) -> tuple[str, ...]:
    from balmon.compliance.sections import sections

    return next(s.columns for s in sections(report.figures) if s.key == key)


def test_the_html_is_one_self_contained_file_with_every_figure(
    engine: Engine, tmp_path: Path
) -> None:
    _seed(engine, tmp_path)
    page = _report(engine, Format.HTML).body.decode()
    tables = _Tables()
    tables.feed(page)
    for section, row in EXPECTED:
        assert row in tables.rows.get(section, []), (section, row)
    # Inline chart, one bar per day and code; nothing loaded from elsewhere.
    assert page.count("<rect ") == 9 and "<svg" in page
    assert not re.search(r"<(script|link|img|iframe)\b", page)
    assert not re.search(r"""(src|href)\s*=|url\(""", page)


def test_the_pdf_has_every_figure_on_its_pages(engine: Engine, tmp_path: Path) -> None:
    _seed(engine, tmp_path)
    body = _report(engine, Format.PDF).body
    assert body.startswith(b"%PDF-")
    document = pdfium.PdfDocument(body)
    try:
        pages = len(document)
        assert 2 <= pages <= 4
        words = []
        for i in range(pages):
            page = document[i]
            image = page.render(scale=1).to_pil()
            assert image.size[0] > image.size[1]  # landscape A4
            assert len(image.getcolors(1 << 16) or []) > 2  # drawn on, not blank
            image.save(tmp_path / f"page-{i + 1}.png")
            words.append(page.get_textpage().get_text_range())
        assert f"page {pages}/{pages}" in words[-1]
    finally:
        document.close()
    flat = " ".join(" ".join(words).split())
    for _, row in EXPECTED:
        assert " ".join(row) in flat, row


def test_a_changed_trail_shows_in_the_report(engine: Engine, tmp_path: Path) -> None:
    _seed(engine, tmp_path)
    _drop_triggers(engine)
    with engine.begin() as c:
        c.execute(
            text(f"UPDATE error_logs SET error_message = 'x' WHERE business_date = '{DAYS[1]}'")
        )
    report = _report(engine, Format.CSV)
    rows = _csv_rows(report.body)
    assert ("summary", "Audit trail", "Value", "NOT INTACT") in rows
    assert any(r[0] == "verify" and r[1] == "Problem" and "changed" in r[3] for r in rows)


@pytest.mark.parametrize("fmt", ["html", "csv", "pdf"])
def test_balmon_report_writes_each_format(engine: Engine, tmp_path: Path, fmt: str) -> None:
    from tests.retention.test_cli import balmon

    db = Path(engine.url.database or "")
    out = tmp_path / f"report.{fmt}"
    made = balmon(
        db, "report", "--from", "2026-10-05", "--to", "2026-10-08", "--format", fmt, "-o", str(out)
    )
    assert made.returncode == 0, made.stderr
    assert out.stat().st_size > 1000 and "audit trail over the period: intact" in made.stderr
    bad = balmon(db, "report", "--from", "2026-10-08", "--to", "2026-10-05")
    assert bad.returncode == 2 and bad.stderr.strip() == "balmon: --from is after --to"


def test_a_date_run_ahead_of_the_schedule_counts_as_due(engine: Engine, tmp_path: Path) -> None:
    ahead = datetime.now(UTC).date() + timedelta(days=5)  # run by hand before it fell due
    _run(engine, tmp_path, ahead)
    report = build(
        engine, _settings(engine), start=ahead, end=ahead, format=Format.CSV, now=datetime.now(UTC)
    )
    rows = _csv_rows(report.body)
    assert ("summary", "Business dates due", "Value", "1") in rows
    assert ("summary", "Dates with a completed run", "Value", "1") in rows
    assert ("summary", "Missed dates", "Value", "none") in rows
