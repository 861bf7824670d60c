"""The report as a PDF, with fpdf2 (pure Python): A4 landscape, the same tables and chart.

Text is set in DejaVu Sans when Debian's fonts-dejavu-core is installed (every script a
customer id may use); otherwise in the PDF's built-in Helvetica, where characters outside
Latin-1 print as "?".
"""

from __future__ import annotations

from pathlib import Path

from fpdf import FPDF
from fpdf.fonts import FontFace

from balmon.compliance.chart import stacked
from balmon.compliance.figures import Figures
from balmon.compliance.sections import Section

DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
MOST_ROWS = 400  # per table; the HTML and CSV have them all


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


class _Report(FPDF):
    def __init__(self, title: str) -> None:
        super().__init__(orientation="L", unit="mm", format="A4")
        self.report_title = title
        regular, bold = DEJAVU / "DejaVuSans.ttf", DEJAVU / "DejaVuSans-Bold.ttf"
        if regular.is_file() and bold.is_file():
            self.add_font("report", "", str(regular))
            self.add_font("report", "B", str(bold))
            self.family, self.unicode = "report", True
        else:
            self.family, self.unicode = "helvetica", False
        self.set_auto_page_break(auto=True, margin=15)
        self.set_title(title)
        self.set_creator("balmon")

    def text_of(self, text: str) -> str:
        return text if self.unicode else text.encode("latin-1", "replace").decode("latin-1")

    def footer(self) -> None:
        self.set_y(-10)
        self.set_font(self.family, "", 7)
        self.cell(
            0, 5, self.text_of(f"{self.report_title}  ·  page {self.page_no()}/{{nb}}"), align="R"
        )


def _heading(pdf: _Report, text: str) -> None:
    if pdf.get_y() > pdf.h - 45:
        pdf.add_page()
    pdf.ln(3)
    pdf.set_font(pdf.family, "B", 11)
    pdf.cell(0, 7, pdf.text_of(text), new_x="LMARGIN", new_y="NEXT")


def _note(pdf: _Report, text: str) -> None:
    if text:
        pdf.set_font(pdf.family, "", 8)
        pdf.multi_cell(0, 4, pdf.text_of(text), new_x="LMARGIN", new_y="NEXT")


def _table(pdf: _Report, section: Section) -> None:
    if not section.rows:
        _note(pdf, "None.")
        return
    pdf.set_font(pdf.family, "", 7 if len(section.columns) > 8 else 8)
    heading = FontFace(emphasis="BOLD", fill_color=(238, 241, 246))
    with pdf.table(headings_style=heading, line_height=4.2, text_align="LEFT") as table:
        table.row([pdf.text_of(c) for c in section.columns])
        for row in section.rows[:MOST_ROWS]:
            table.row([pdf.text_of(cell) for cell in row])
    if len(section.rows) > MOST_ROWS:
        _note(pdf, f"{len(section.rows) - MOST_ROWS} more rows in the HTML and CSV report.")


def _chart(pdf: _Report, figures: Figures) -> None:
    width, height = 250.0, 45.0
    chart = stacked(figures.attempts_by_day, width, height)
    if not chart.bars:
        return
    if pdf.get_y() + height + 12 > pdf.h - 15:
        pdf.add_page()
    left, top = pdf.l_margin, pdf.get_y() + 2
    pdf.set_font(pdf.family, "", 6)
    pdf.text(left, top + 2, str(chart.top))
    for bar in chart.bars:
        pdf.set_fill_color(*_rgb(bar.colour))
        pdf.rect(left + bar.x, top + bar.y, bar.width, bar.height, style="F")
    pdf.set_draw_color(150, 150, 170)
    pdf.line(left, top + height, left + width, top + height)
    pdf.text(left, top + height + 4, str(chart.days[0]))
    if len(chart.days) > 1:
        pdf.text(left + width - 14, top + height + 4, str(chart.days[-1]))
    x = left
    for code in chart.codes:
        colour = next(b.colour for b in chart.bars if b.code == code)
        pdf.set_fill_color(*_rgb(colour))
        pdf.rect(x, top + height + 6, 3, 3, style="F")
        pdf.text(x + 4, top + height + 8.5, pdf.text_of(code))
        x += 6 + pdf.get_string_width(code)
    pdf.set_fill_color(255, 255, 255)  # the tables that follow are not filled
    pdf.set_y(top + height + 12)


def render(figures: Figures, sections: list[Section]) -> bytes:
    title = f"balmon compliance report: {figures.start} to {figures.end}"
    pdf = _Report(title)
    pdf.add_page()
    pdf.set_font(pdf.family, "B", 15)
    pdf.cell(0, 9, pdf.text_of(title), new_x="LMARGIN", new_y="NEXT")
    _note(pdf, sections[0].note)
    for section in sections:
        _heading(pdf, section.title)
        if section.key == "errors_by_day":
            _chart(pdf, figures)
        _table(pdf, section)
        if section.key != "summary":
            _note(pdf, section.note)
    return bytes(pdf.output())
