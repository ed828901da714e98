"""Slide building blocks shared by the stakeholder deck (`export.deck`) and the calibration
meeting pack (`export.meeting`): a 16:9 presentation whose slides have a title and a footer,
text boxes sized by a conservative estimate, and tables of plain-text cells.

Fitting text: python-pptx cannot measure rendered text, so sizes are chosen from a conservative
estimate (an average glyph is at most 0.55 em wide, lines 1.25 em apart). Text from data is
set as plain text in text frames and table cells (never markup); callers pass it through
`export.safety.xml_text` (what XML cannot hold) and shorten it first.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from pptx import Presentation
from pptx.dml.color import RGBColor
from pptx.enum.text import PP_ALIGN
from pptx.slide import Slide
from pptx.util import Emu, Inches, Pt

WIDTH, HEIGHT = Inches(13.333), Inches(7.5)
MARGIN = Inches(0.5)
GREY = RGBColor(0x59, 0x59, 0x59)
GLYPH_EM, LINE_EM = 0.55, 1.25
CELL_PAD_W, CELL_PAD_H = 0.2, 0.1  # inches: a table cell's left+right and top+bottom margins


def fitting_size(
    paragraphs: Sequence[str], width_in: float, height_in: float, sizes: Sequence[int]
) -> int | None:
    """The largest font size (pt) in `sizes` at which `paragraphs` fit the box, by the
    conservative estimate; None if none does."""
    for size in sorted(sizes, reverse=True):
        if text_height(paragraphs, width_in, size) <= height_in:
            return size
    return None


def lines_needed(text: str, width_in: float, size: float) -> int:
    """Lines `text` takes in a box `width_in` wide at `size` pt (the conservative estimate)."""
    per_line = max(1, int(width_in * 72 / (GLYPH_EM * size)))
    return sum(max(1, math.ceil(len(part) / per_line)) for part in text.split("\n"))


def text_height(paragraphs: Sequence[str], width_in: float, size: float) -> float:
    """Inches that `paragraphs` take at `size` pt, with 0.4 em after each (the estimate)."""
    lines = sum(lines_needed(p, width_in, size) for p in paragraphs)
    return (lines * LINE_EM * size + len(paragraphs) * 0.4 * size) / 72


def optional_float(value: Any) -> float | None:
    """A number from a frame cell, None where it is missing."""
    if value is None or pd.isna(value):
        return None
    return float(value)


@dataclass
class Cell:
    """A table cell: plain text, optionally a hyperlink and a text colour."""

    text: str
    link: str | None = None  # a hyperlink (only ever one the configuration's template made)
    color: RGBColor | None = None


class SlideDeck:
    """A blank 16:9 presentation whose every slide carries `footer`."""

    def __init__(self, footer: str) -> None:
        self.prs = Presentation()
        self.prs.slide_width, self.prs.slide_height = WIDTH, HEIGHT
        self.blank = self.prs.slide_layouts[6]
        self.footer = footer
        self.width_in = (WIDTH - 2 * MARGIN) / 914400

    def slide(self, title: str, size: int = 26) -> Slide:
        """A new slide with `title` (already shortened by the caller) and the footer."""
        slide = self.prs.slides.add_slide(self.blank)
        box = slide.shapes.add_textbox(MARGIN, Inches(0.3), Emu(WIDTH - 2 * MARGIN), Inches(0.8))
        tf = box.text_frame
        tf.word_wrap = True
        p = tf.paragraphs[0]
        p.text = title
        p.font.size, p.font.bold = Pt(size), True
        foot = slide.shapes.add_textbox(MARGIN, Emu(HEIGHT - Inches(0.45)),
                                        Emu(WIDTH - 2 * MARGIN), Inches(0.3))  # fmt: skip
        foot.text_frame.word_wrap = True
        fp = foot.text_frame.paragraphs[0]
        fp.text = self.footer
        fp.font.size = Pt(9)
        fp.font.color.rgb = GREY
        return slide

    def text_box(
        self, slide: Slide, texts: Sequence[str], top: float, height: float, size: float,
        color: RGBColor | None = None,
    ) -> float:  # fmt: skip
        """A full-width text box of one paragraph per text at `size` pt; returns the height the
        text takes (inches, by the estimate)."""
        box = slide.shapes.add_textbox(MARGIN, Inches(top), Emu(WIDTH - 2 * MARGIN),
                                       Inches(height))  # fmt: skip
        tf = box.text_frame
        tf.word_wrap = True
        for i, text in enumerate(texts):
            p = tf.paragraphs[0] if i == 0 else tf.add_paragraph()
            p.text = text
            p.font.size = Pt(size)
            p.space_after = Pt(0.4 * size)
            if color is not None:
                p.font.color.rgb = color
        return text_height(texts, self.width_in, size)

    def table(
        self, slide: Slide, header: Sequence[str], rows: Sequence[Sequence[Cell]],
        widths: Sequence[float], top: float, size: float, right: Sequence[int] = (),
        row_in: float | None = None,
    ) -> None:  # fmt: skip
        """A table with a bold header row; columns in `right` are right-aligned. Rows are
        `row_in` inches tall (default: one line's height; a renderer grows a row to its wrapped
        text, so the table is as tall as its text)."""
        line = row_in if row_in is not None else (LINE_EM * size) / 72 + CELL_PAD_H
        n = len(rows) + 1
        shape = slide.shapes.add_table(n, len(header), MARGIN, Inches(top), Inches(sum(widths)),
                                       Inches(line * n))  # fmt: skip
        table = shape.table
        for j, w in enumerate(widths):
            table.columns[j].width = Inches(w)
        for i in range(n):
            table.rows[i].height = Inches(line)
        for i, row in enumerate([[Cell(h) for h in header], *rows]):
            for j, cell in enumerate(row):
                frame = table.cell(i, j).text_frame
                frame.word_wrap = True
                para = frame.paragraphs[0]
                run = para.add_run()
                run.text = cell.text
                run.font.size = Pt(size)
                run.font.bold = i == 0
                if cell.link:
                    run.hyperlink.address = cell.link
                if cell.color is not None:
                    run.font.color.rgb = cell.color
                if j in right and i > 0:
                    para.alignment = PP_ALIGN.RIGHT

    def save(self) -> bytes:
        buffer = io.BytesIO()
        self.prs.save(buffer)
        return buffer.getvalue()
