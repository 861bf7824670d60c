"""The report as one self-contained HTML file: styles and the chart inline, no scripts, no
link to anything outside it, so it opens the same on an auditor's laptop years later."""

from __future__ import annotations

from jinja2 import Environment, select_autoescape
from markupsafe import Markup, escape

from balmon.compliance.chart import COLOURS, Chart, stacked
from balmon.compliance.figures import Figures
from balmon.compliance.sections import Section

_TEMPLATE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<style>
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: #1d2433; margin: 2rem auto; max-width: 70rem; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
p.note { color: #4a5365; margin: .3rem 0 .8rem; }
table { border-collapse: collapse; margin: .5rem 0; }
th, td { border: 1px solid #d5dae3; padding: .25rem .55rem; text-align: left;
         vertical-align: top; }
th { background: #eef1f6; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.bad { color: #b00020; font-weight: 600; } .good { color: #1b7f3a; font-weight: 600; }
code { font-family: ui-monospace, monospace; word-break: break-all; }
.legend span { display: inline-block; margin-right: 1rem; }
.legend i { display: inline-block; width: .8rem; height: .8rem; margin-right: .3rem; }
@media print { body { margin: 0; } h2 { break-after: avoid; } table { break-inside: auto; } }
</style>
</head>
<body>
<h1>{{ title }}</h1>
<p class="note">{{ subtitle }}</p>
{% for section in sections %}
<h2 id="{{ section.key }}">{{ section.title }}</h2>
{% if section.key == "errors_by_day" %}{{ chart_svg }}{% endif %}
{% if section.rows %}
<table>
<thead><tr>{% for c in section.columns %}<th scope="col">{{ c }}</th>{% endfor %}</tr></thead>
<tbody>
{% for row in section.rows %}<tr>{% for cell in row %}{{ cell|td }}{% endfor %}</tr>
{% endfor %}
</tbody>
</table>
{% else %}<p class="note">None.</p>{% endif %}
{% if section.note and not loop.first %}<p class="note">{{ section.note }}</p>{% endif %}
{% endfor %}
</body>
</html>
"""


def _td(cell: str) -> Markup:
    """One table cell: numbers right-aligned, the verify result coloured, digests in code."""
    if cell.replace(".", "", 1).replace("%", "").isdigit():
        return Markup('<td class="num">{}</td>').format(cell)
    if cell in ("intact", "NOT INTACT"):
        kind = "good" if cell == "intact" else "bad"
        return Markup('<td><span class="{}">{}</span></td>').format(kind, cell)
    if len(cell) == 64 and not cell.strip("0123456789abcdef"):
        return Markup("<td><code>{}</code></td>").format(cell)
    return Markup("<td>{}</td>").format(cell)


_ENV = Environment(autoescape=select_autoescape(default=True), trim_blocks=True)
_ENV.filters["td"] = _td


def svg(chart: Chart) -> str:
    """The chart as inline SVG, with a text title per bar for screen readers and tooltips."""
    if not chart.bars:
        return '<p class="note">No error log rows in the period.</p>'
    axis = 24
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{chart.width + axis:.0f}" '
        f'height="{chart.height + 30:.0f}" aria-label="Error log rows by business date and code">',
        f'<text x="0" y="10" font-size="10">{chart.top}</text>',
        f'<line x1="{axis}" y1="{chart.height}" x2="{chart.width + axis}" y2="{chart.height}" '
        'stroke="#99a" />',
    ]
    for bar in chart.bars:
        parts.append(
            f'<rect x="{bar.x + axis:.1f}" y="{bar.y:.1f}" width="{bar.width:.1f}" '
            f'height="{bar.height:.1f}" fill="{bar.colour}"><title>{bar.day} '
            f"{escape(bar.code)}: {bar.count}</title></rect>"
        )
    first, last = chart.days[0], chart.days[-1]
    parts.append(f'<text x="{axis}" y="{chart.height + 14}" font-size="10">{first}</text>')
    if last != first:
        parts.append(
            f'<text x="{chart.width + axis}" y="{chart.height + 14}" font-size="10" '
            f'text-anchor="end">{last}</text>'
        )
    parts.append("</svg>")
    legend = "".join(
        f'<span><i style="background:{COLOURS.get(c, "#888888")}"></i>{escape(c)}</span>'
        for c in chart.codes
    )
    return "".join(parts) + f'<p class="legend">{legend}</p>'


def render(figures: Figures, sections: list[Section]) -> bytes:
    chart = stacked(figures.attempts_by_day, 720, 200)
    page = _ENV.from_string(_TEMPLATE).render(
        title=f"balmon compliance report: {figures.start} to {figures.end}",
        subtitle=sections[0].note,
        sections=sections,
        chart_svg=Markup(svg(chart)),  # noqa: S704 (built above from escaped values)
    )
    return page.encode("utf-8")
