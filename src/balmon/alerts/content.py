"""What an alert says: code, severity, action, affected customers and a dashboard link.

Never balances, raw responses, tokens or stack traces: the rows these are built from hold none.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from urllib.parse import urlencode

from balmon import limits
from balmon.errors import info
from balmon.storage.states import Status


@dataclass(frozen=True, slots=True)
class AlertedCustomer:
    customer_id: str
    code: str
    failed_at: datetime
    attempts: int
    note: str | None = None  # e.g. "regression of case 12 resolved on 2026-11-20 by ops"


@dataclass(frozen=True, slots=True)
class Rendered:
    title: str
    body: str
    short_body: str


def errors_link(dashboard_url: str | None, business_date: date, code: str) -> str | None:
    """The dashboard's error list filtered to this date and code."""
    if not dashboard_url:
        return None
    query = urlencode({"date": business_date.isoformat(), "code": code})
    return f"{dashboard_url.rstrip('/')}/errors?{query}"


def _customer_line(customer: AlertedCustomer) -> str:
    when = customer.failed_at.strftime("%Y-%m-%d %H:%M:%SZ")
    plural = "attempt" if customer.attempts == 1 else "attempts"
    line = f"- {customer.customer_id}  {customer.code}  {when}  {customer.attempts} {plural}"
    return f"{line}  ({customer.note})" if customer.note else line


def render_group(
    *,
    business_date: date,
    run_id: int,
    code: str,
    customers: list[AlertedCustomer],
    total: int,
    dashboard_url: str | None,
) -> Rendered:
    """One message for a group of customers that ended UNAVAILABLE with the same code."""
    entry = info(code)
    noun = "customer" if total == 1 else "customers"
    title = f"[balmon] {entry.severity} {code}: {total:,} {noun} unavailable on {business_date}"
    lines = [
        f"Business date: {business_date} (run {run_id})",
        f"Error code: {code} (severity {entry.severity})",
        f"Meaning: {entry.description}",
        f"Suggested action: {entry.suggested_action}",
        "",
        f"Customers ({len(customers):,} of {total:,}; "
        "customer, final code, failed at UTC, attempts):",
        *(_customer_line(c) for c in customers),
    ]
    if total > len(customers):
        lines.append(f"...and {total - len(customers):,} more")
    link = errors_link(dashboard_url, business_date, code)
    if link:
        lines += ["", f"Dashboard: {link}"]
    return Rendered(
        title, "\n".join(lines), _short(code, entry.severity, total, business_date, customers, link)
    )


def _short(
    code: str,
    severity: str,
    total: int,
    day: date,
    customers: list[AlertedCustomer],
    link: str | None,
) -> str:
    ids = ", ".join(c.customer_id for c in customers[:3])
    more = f" +{total - 3:,} more" if total > 3 else ""
    text = f"balmon {severity} {code}: {total:,} unavailable {day}. {ids}{more}."
    text = limits.clip(text, limits.SMS)
    if link and len(text) + 1 + len(link) <= limits.SMS:
        text += f" {link}"
    return text


def render_test() -> Rendered:
    body = "This is a test message from balmon. If you can read it, this channel works."
    return Rendered("[balmon] test alert", body, "balmon test alert: this channel works.")


def render_summary(
    *,
    business_date: date,
    run_id: int,
    counts: dict[Status, int],
    by_code: dict[str, int],
    duration: float,
    dashboard_url: str | None,
) -> Rendered:
    """The optional end-of-run message."""
    title = (
        f"[balmon] run {run_id} for {business_date}: PASS {counts.get(Status.PASS, 0):,} "
        f"FAIL {counts.get(Status.FAIL, 0):,} UNAVAILABLE {counts.get(Status.UNAVAILABLE, 0):,}"
    )
    lines = [f"Business date: {business_date} (run {run_id}), duration {duration:,.1f}s"]
    lines += [f"{status}: {count:,}" for status, count in sorted(counts.items())]
    if by_code:
        lines.append("UNAVAILABLE by code:")
        lines += [f"- {code}: {count:,}" for code, count in sorted(by_code.items())]
    if dashboard_url:
        lines.append(f"Dashboard: {dashboard_url.rstrip('/')}/?date={business_date}")
    return Rendered(title, "\n".join(lines), title.removeprefix("[balmon] "))


_ALARM_ACTION = {
    "missed": "Check that a scheduler is running (`balmon serve` or `balmon scheduler`) and "
    "that the bank API answers, then run the date: `balmon run --date {day}`.",
    "failed": "Read the reason, fix its cause (configuration, customer file, database), "
    "then run the date again: `balmon run --date {day}`.",
}


def render_alarm(
    *, business_date: date, reason: str, detail: str, dashboard_url: str | None
) -> Rendered:
    """The CRITICAL message for a business date whose run is missing or failed."""
    what = "has no completed run" if reason == "missed" else "run failed"
    title = f"[balmon] CRITICAL: {business_date} {what}"
    lines = [
        f"Business date: {business_date}",
        f"Problem: {detail}",
        f"Suggested action: {_ALARM_ACTION[reason].format(day=business_date)}",
        "See docs/troubleshooting.md, 'The day's run is missing'.",
    ]
    if dashboard_url:
        lines.append(f"Dashboard: {dashboard_url.rstrip('/')}/runs")
    short = f"balmon CRITICAL: {business_date} {what}. {detail}"
    short = limits.clip(short, limits.SMS)
    return Rendered(title, "\n".join(lines), short)


def render_quality_alarm(
    *, business_date: date, code: str, detail: str, folded: int, dashboard_url: str | None
) -> Rendered:
    """The message for a business date whose data looks wrong as a whole (a day rule)."""
    entry = info(code)
    title = f"[balmon] {entry.severity.value}: {code} on {business_date}"
    lines = [
        f"Business date: {business_date}",
        f"Rule: {code} ({entry.description})",
        f"Found: {detail}",
        f"Suggested action: {entry.suggested_action}",
    ]
    if folded:
        lines.append(f"This message stands for the date's {folded:,} STALE_BALANCE alerts.")
    lines.append("See docs/data-quality.md.")
    if dashboard_url:
        lines.append(f"Dashboard: {dashboard_url.rstrip('/')}/?date={business_date}")
    short = limits.clip(
        f"balmon {entry.severity.value}: {code} on {business_date}. {detail}", limits.SMS
    )
    return Rendered(title, "\n".join(lines), short)


@dataclass(frozen=True, slots=True)
class EscalatedCase:
    case_id: int
    customer_id: str
    code: str
    business_date: date
    age_hours: float
    owner: str | None


def render_escalation(
    *, cases: list[EscalatedCase], shown: int, dashboard_url: str | None
) -> Rendered:
    """One message naming every open, unacknowledged case past its escalation time."""
    total = len(cases)
    noun = "case" if total == 1 else "cases"
    title = f"[balmon] ESCALATION: {total:,} open {noun} nobody has acknowledged"
    lines = [
        "Open cases past their escalation time that nobody acknowledged "
        "(customer, code, business date, open for, owner):",
    ]
    base = dashboard_url.rstrip("/") if dashboard_url else None
    for case in cases[:shown]:
        owner = case.owner or "nobody"
        line = (
            f"- {case.customer_id}  {case.code}  {case.business_date}  "
            f"{case.age_hours:.1f} h  owner {owner}"
        )
        lines.append(f"{line}  {base}/cases/{case.case_id}" if base else line)
    if total > shown:
        lines.append(f"...and {total - shown:,} more")
    lines += ["", "Acknowledge a case (or resolve it) to stop its escalation."]
    short = limits.clip(f"balmon ESCALATION: {total:,} open {noun} unacknowledged", limits.SMS)
    return Rendered(title, "\n".join(lines), short)


def render_digest(
    *,
    day: date,
    by_severity: dict[str, int],
    by_owner: dict[str, int],
    oldest: list[EscalatedCase],
    total: int,
    dashboard_url: str | None,
) -> Rendered:
    """The morning digest: open cases by severity and owner, the oldest first."""
    title = f"[balmon] Digest {day}: {total:,} open {'case' if total == 1 else 'cases'}"
    severities = ", ".join(f"{name} {n:,}" for name, n in by_severity.items() if n)
    owners = ", ".join(f"{name} {n:,}" for name, n in by_owner.items())
    lines = [
        f"Open cases: {total:,}" + (f" ({severities})" if severities else ""),
        f"By owner: {owners or 'none'}",
        "",
        "Oldest first (customer, code, business date, open for, owner):",
    ]
    base = dashboard_url.rstrip("/") if dashboard_url else None
    for case in oldest:
        line = (
            f"- {case.customer_id}  {case.code}  {case.business_date}  "
            f"{case.age_hours:.1f} h  owner {case.owner or 'nobody'}"
        )
        lines.append(f"{line}  {base}/cases/{case.case_id}" if base else line)
    if total > len(oldest):
        lines.append(f"...and {total - len(oldest):,} more")
    short = limits.clip(f"balmon digest {day}: {total:,} open cases", limits.SMS)
    return Rendered(title, "\n".join(lines), short)
