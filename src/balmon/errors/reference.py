"""Render the error-code reference for the terminal and for docs/error-codes.md."""

from __future__ import annotations

from balmon.errors.taxonomy import CODES

DOC_HEADER = """# Error code reference

Generated from `src/balmon/errors/taxonomy.py` by `balmon codes --markdown`; do not edit by
hand (a test fails when this file and the code disagree). `balmon db upgrade` seeds the same
codes into the `error_codes` table.

Retryable codes are retried with backoff (see [retry-policy.md](retry-policy.md)); the others
are final on the first attempt. A customer that ends without a usable balance is recorded
UNAVAILABLE with its final code, never PASS or FAIL, and the operations team is alerted.
"""


def render_markdown() -> str:
    """The whole of docs/error-codes.md."""
    lines = [
        DOC_HEADER,
        "| Code | Description | Severity | Retryable | Suggested action |",
        "|------|-------------|----------|-----------|------------------|",
    ]
    for entry in CODES.values():
        retry = "yes" if entry.retryable else "no"
        lines.append(
            f"| `{entry.code}` | {entry.description} | {entry.severity} | {retry} "
            f"| {entry.suggested_action} |"
        )
    lines.append("\n## Root causes\n")
    for entry in CODES.values():
        lines.append(f"### {entry.code}\n\n{entry.root_cause}\n")
    return "\n".join(lines)


def render_text() -> str:
    """A compact table for the terminal."""
    rows = [("CODE", "SEVERITY", "RETRY", "DESCRIPTION / ACTION")]
    for entry in CODES.values():
        retry = "yes" if entry.retryable else "no"
        rows.append((entry.code, entry.severity, retry, entry.description))
        rows.append(("", "", "", f"-> {entry.suggested_action}"))
    width = [max(len(row[i]) for row in rows) for i in range(3)]
    return "\n".join(
        f"{a:<{width[0]}}  {b:<{width[1]}}  {c:<{width[2]}}  {d}" for a, b, c, d in rows
    )
