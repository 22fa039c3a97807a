"""A PDF page as visual lines of positioned segments, read with PDFium (pypdfium2).

PDFium gives every character with its box; characters are grouped into lines by their
vertical centre, and a line into segments wherever a gap is wider than a column gutter,
so a table row arrives as label | figure | figure with each segment's x-range.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

_SPACE_GAP = 0.45  # a gap wider than this (x glyph height) is a space even if PDFium set none
_COLUMN_GAP = 1.0  # a gap wider than this (x glyph height) separates segments (columns)


@dataclass
class Segment:
    text: str
    x0: float
    x1: float
    words: list[tuple[str, float, float]] = field(default_factory=list)


@dataclass
class Line:
    segments: list[Segment]
    top: float  # distance from the top of the page (grows downward)
    bottom: float
    size: float  # glyph box height: the line's type size in page units

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.segments)

    @property
    def x0(self) -> float:
        return self.segments[0].x0

    @property
    def x1(self) -> float:
        return self.segments[-1].x1

    @property
    def centre(self) -> float:
        return (self.top + self.bottom) / 2


@dataclass
class _Glyph:
    ch: str
    x0: float
    x1: float
    top: float
    bottom: float
    space_before: bool

    @property
    def centre(self) -> float:
        return (self.top + self.bottom) / 2


def page_lines(page: Any, *, max_glyphs: int) -> tuple[list[Line], float]:
    """The page's lines top to bottom, and the page height; OverflowError past max_glyphs."""
    height = float(page.get_height())
    glyphs = _glyphs(page, height, max_glyphs)
    return [_line(g) for g in _rows(glyphs)], height


def _glyphs(page: Any, height: float, max_glyphs: int) -> list[_Glyph]:
    import pypdfium2.raw as pdfium_c

    textpage = page.get_textpage()
    try:
        count = textpage.count_chars()
        if count > max_glyphs:
            raise OverflowError(count)
        out: list[_Glyph] = []
        space = False
        for i in range(count):
            code = pdfium_c.FPDFText_GetUnicode(textpage, i)
            ch = chr(code) if 0 < code < 0x110000 else ""
            if not ch or ch.isspace() or ch in "\x00\ufffe\uffff":
                space = True
                continue
            left, bottom, right, top = textpage.get_charbox(i, loose=True)
            if top - bottom <= 0:
                continue
            out.append(_Glyph(ch, left, right, height - top, height - bottom, space))
            space = False
        return out
    finally:
        textpage.close()


def _rows(glyphs: list[_Glyph]) -> list[list[_Glyph]]:
    """Glyphs grouped by vertical centre, top to bottom (a raised footnote mark stays put)."""
    rows: list[list[_Glyph]] = []
    centre = 0.0
    for g in sorted(glyphs, key=lambda g: g.centre):
        size = g.bottom - g.top
        if rows and abs(g.centre - centre) <= 0.4 * size:
            rows[-1].append(g)
        else:
            rows.append([g])
            centre = g.centre
    return rows


def _line(glyphs: list[_Glyph]) -> Line:
    glyphs.sort(key=lambda g: g.x0)
    heights = sorted(g.bottom - g.top for g in glyphs)
    size = heights[len(heights) // 2]  # the body type, not a larger checkbox or symbol
    segments: list[Segment] = []
    words: list[list[_Glyph]] = []
    prev: _Glyph | None = None
    for g in glyphs:
        gap = g.x0 - prev.x1 if prev else 0.0
        if prev is None or gap > _COLUMN_GAP * size:
            if words:
                segments.append(_segment(words))
            words = [[g]]
        elif g.space_before or gap > _SPACE_GAP * size:
            words.append([g])
        else:
            words[-1].append(g)
        prev = g
    segments.append(_segment(words))
    return Line(segments, min(g.top for g in glyphs), max(g.bottom for g in glyphs), size)


def _segment(words: list[list[_Glyph]]) -> Segment:
    spans = [("".join(g.ch for g in w), w[0].x0, max(g.x1 for g in w)) for w in words]
    return Segment(" ".join(t for t, _, _ in spans), spans[0][1], spans[-1][2], spans)
