"""The report as one CSV file in long form: section, item, figure, value. Every cell of
every table is one row, so a spreadsheet or a script can pick any figure by its names."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from balmon.compliance.sections import Section

# What a spreadsheet would run: a cell starting with = or @, a tab or carriage return (which
# some programs skip before looking), or + or - followed by more than a plain id or number
# (an operator, a function call, a DDE reference). "-C001" or "+44" stay exactly as they are.
_FORMULA = re.compile(r"[=@\t\r]|[+-](?![\w.]*$)")


def spreadsheet_cell(value: Any) -> Any:
    """A CSV cell a spreadsheet will show, never run."""
    if isinstance(value, str) and _FORMULA.match(value):
        return "'" + value  # keep spreadsheet formulas from running (CSV injection)
    if isinstance(value, bool):
        return "true" if value else "false"
    return value.isoformat() if hasattr(value, "isoformat") else value


def render(sections: list[Section]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(("section", "item", "figure", "value"))
    for section in sections:
        for row in section.rows:
            for column, cell in zip(section.columns[1:], row[1:], strict=True):
                writer.writerow(
                    (section.key, spreadsheet_cell(row[0]), column, spreadsheet_cell(cell))
                )
    return out.getvalue().encode("utf-8")
