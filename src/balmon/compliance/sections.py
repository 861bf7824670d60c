"""The report's tables, formatted once: every output format renders these same cells, so the
HTML, the CSV and the PDF cannot disagree on a figure."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from balmon.compliance.figures import Figures
from balmon.errors.taxonomy import CODES


@dataclass(frozen=True)
class Section:
    key: str  # the CSV's section column
    title: str
    columns: tuple[str, ...]
    rows: list[tuple[str, ...]] = field(default_factory=list)
    note: str = ""


def _when(moment: datetime | None) -> str:
    return "" if moment is None else f"{moment:%Y-%m-%d %H:%M:%S}Z"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "not finished"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest:02d}s" if minutes else f"{rest}s"


def _rate(rate: float | None) -> str:
    return "" if rate is None else f"{rate:.1%}"


def _hours(hours: float | None) -> str:
    return "" if hours is None else f"{hours:.2f}"


MOST_DATES = 60  # listed in one cell; the count is always whole


def _dates(days: list[date]) -> str:
    listed = " ".join(d.isoformat() for d in days[:MOST_DATES]) or "none"
    return listed + (f" and {len(days) - MOST_DATES} more" if len(days) > MOST_DATES else "")


def sections(f: Figures) -> list[Section]:
    cases = sum(r.cases for r in f.by_code)
    resolved = sum(r.resolved for r in f.by_code)
    summary = Section(
        "summary",
        "Summary",
        ("Figure", "Value"),
        [
            ("Business dates", f"{f.start} to {f.end}"),
            ("Business dates due", str(len(f.expected_dates))),
            ("Dates with a completed run", str(len(f.completed_dates))),
            ("Missed dates", _dates(f.missed_dates)),
            ("Runs", str(len(f.runs))),
            ("Customers verified", str(f.customers_verified)),
            ("PASS", str(f.verifications.get("PASS", 0))),
            ("FAIL", str(f.verifications.get("FAIL", 0))),
            ("UNAVAILABLE", str(f.verifications.get("UNAVAILABLE", 0))),
            ("Error log rows", str(sum(f.attempts_by_code.values()))),
            ("Customers affected", str(f.customers_affected)),
            ("Cases", str(cases)),
            ("Cases resolved", str(resolved)),
            (
                f"Unresolved HIGH/CRITICAL cases older than {f.age_days} days",
                str(f.open_urgent_total),
            ),
            ("Alerts raised", str(f.alerts.get("raised", 0))),
            ("Alert deliveries sent", str(f.alerts.get("sent", 0))),
            ("Alert deliveries failed", str(f.alerts.get("failed", 0))),
            ("Audit trail", "intact" if f.verify.get("intact") else "NOT INTACT"),
            ("Anchor digest", str(f.verify.get("anchor", ""))),
        ],
        note="Generated "
        + _when(f.generated_at)
        + f" from the {f.database} database."
        + (
            " Retention archived rows dated in this period: the figures count only the rows "
            "still in the database (the archives hold the rest)."
            if f.archived_into
            else ""
        ),
    )
    runs = Section(
        "runs",
        "Runs",
        (
            "Business date",
            "Run",
            "Kind",
            "Status",
            "Started",
            "Duration",
            "Customers",
            "PASS",
            "FAIL",
            "UNAVAILABLE",
            "Invalid lines",
        ),
        [
            (
                str(r.business_date),
                str(r.run_id),
                r.kind,
                r.status,
                _when(r.started_at),
                _duration(r.seconds),
                str(r.total),
                str(r.passed),
                str(r.failed),
                str(r.unavailable),
                str(r.invalid_input),
            )
            for r in f.runs
        ],
        note="Missed dates (due, no completed run): " + _dates(f.missed_dates),
    )
    codes = sorted(f.attempts_by_code)
    by_code = Section(
        "errors_by_code",
        "Errors by code",
        ("Code", "Severity", "Error log rows", "Customers"),
        [
            (c, CODES[c].severity.value, str(f.attempts_by_code[c]), str(f.customers_by_code[c]))  # type: ignore[index]
            for c in codes
        ],
    )
    by_day = Section(
        "errors_by_day",
        "Errors by day",
        ("Business date", *codes, "Total"),
        [
            (
                str(day),
                *(str(f.attempts_by_day[day].get(c, 0)) for c in codes),
                str(sum(f.attempts_by_day[day].values())),
            )
            for day in sorted(f.attempts_by_day)
        ],
    )
    quality = Section(
        "data_quality",
        "Data-quality flags",
        ("Code", "Error log rows", "Customers"),
        [(code, str(rows), str(customers)) for code, (rows, customers) in f.data_quality.items()],
        note="Wrong data, not a failure to fetch it: flagged, never counted as PASS or FAIL.",
    )
    open_times = Section(
        "open_times",
        "How long problems stayed open",
        ("Measure", "Cases", "Median hours", "90th percentile hours"),
        [
            (label, str(d.count), _hours(d.median_hours) or "-", _hours(d.p90_hours) or "-")
            for label, d in (
                ("Time to acknowledge", f.open_times["acknowledge"]),
                ("Time to resolve", f.open_times["resolve"]),
            )
        ],
        note="From each case's first failed attempt, over the period's cases.",
    )
    day_alarms = Section(
        "data_quality_alarms",
        "Data-quality alarms (a business date wrong as a whole)",
        ("Business date", "Rule", "Found"),
        [(str(day), code, detail) for day, code, detail in f.day_alarms],
        note="STALE_FEED, FAIL_SPIKE and UNAVAILABLE_SPIKE: one alarm per date and rule.",
    )
    resolution = Section(
        "resolution_by_code",
        "Resolution by code",
        ("Code", "Severity", "Cases", "Resolved", "Rate", "Median hours to resolve"),
        [
            (
                r.key,
                r.severity,
                str(r.cases),
                str(r.resolved),
                _rate(r.rate),
                _hours(r.median_hours),
            )
            for r in f.by_code
        ],
        note="A case is one customer's problem of one business date; hours from first seen "
        "to resolved.",
    )
    severity = Section(
        "resolution_by_severity",
        "Resolution by severity",
        ("Severity", "Cases", "Resolved", "Rate", "Median hours to resolve"),
        [
            (r.key, str(r.cases), str(r.resolved), _rate(r.rate), _hours(r.median_hours))
            for r in f.by_severity
        ],
    )
    urgent = Section(
        "open_urgent",
        f"Unresolved HIGH and CRITICAL cases older than {f.age_days} days (not recovered)",
        ("Business date", "Customer", "Code", "Severity", "Age (days)"),
        [
            (str(o.business_date), o.customer_id, o.code, o.severity, str(o.age_days))
            for o in f.open_urgent
        ],
        note=f"{f.open_urgent_total} in all"
        + (
            f"; the oldest {len(f.open_urgent)} listed"
            if f.open_urgent_total > len(f.open_urgent)
            else ""
        ),
    )
    alerting = Section(
        "alerts",
        "Alerts",
        ("Figure", "Value"),
        [
            ("Alerts raised", str(f.alerts.get("raised", 0))),
            ("Held back by a silence", str(f.alerts.get("silenced", 0))),
            ("Messages", str(f.alerts.get("messages", 0))),
            ("Deliveries sent", str(f.alerts.get("sent", 0))),
            ("Deliveries failed", str(f.alerts.get("failed", 0))),
            ("Deliveries pending", str(f.alerts.get("pending", 0))),
        ],
    )
    retention = Section(
        "retention",
        "Retention applied during the period",
        ("Applied", "By", "Archive", "Rows archived", "Manifest digest"),
        [
            (_when(r["at"]), r["actor"], str(r["name"]), str(r["rows"]), str(r["digest"]))
            for r in f.retention
        ],
    )
    holds = Section(
        "holds",
        "Legal holds in force",
        ("Hold", "Customer", "Business date", "Reason", "By", "Since"),
        [
            (
                str(h["id"]),
                h["customer_id"] or "any",
                str(h["business_date"] or "any"),
                h["reason"],
                h["created_by"],
                _when(h["created_at"]),
            )
            for h in f.holds
        ],
    )
    verify = Section(
        "verify",
        "Audit trail: balmon audit verify over the period",
        ("Figure", "Value"),
        [
            ("Result", "intact" if f.verify.get("intact") else "NOT INTACT"),
            ("Rows checked", str(f.verify.get("rows", 0))),
            ("Segments checked", str(f.verify.get("segments", 0))),
            ("Seals", str(f.verify.get("seals", 0))),
            ("Anchor digest", str(f.verify.get("anchor", ""))),
            *(("Problem", finding) for finding in f.verify.get("findings", [])[:50]),
        ],
        note="Keep the anchor digest outside the database; `balmon audit verify --anchor "
        "DIGEST` later proves nothing it covers has changed since.",
    )
    return [
        summary, runs, by_code, by_day, quality, day_alarms, open_times, resolution, severity,
        urgent, alerting, retention, holds, verify,
    ]  # fmt: skip
