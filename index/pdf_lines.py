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


def reading_order(lines: list[Line]) -> list[Line]:
    """Lines in reading order: a two-column page reads down the left column, then the right.

    A page is two-column when most of its lines are two runs of prose either side of one
    gutter; lines that cross the gutter before the columns start (a title) come first.
    """
    pairs = [
        ln for ln in lines if len(ln.segments) == 2 and all(len(s.text) >= 15 for s in ln.segments)
    ]
    wider = sum(len(ln.segments) > 2 for ln in lines)  # three runs a line: a table of words
    if len(pairs) < max(5, 0.4 * len(lines)) or wider > 0.1 * len(lines):
        return lines
    gaps = sorted((ln.segments[0].x1 + ln.segments[1].x0) / 2 for ln in pairs)
    gutter = gaps[len(gaps) // 2]
    if sum(ln.segments[0].x1 < gutter < ln.segments[1].x0 for ln in pairs) < 0.9 * len(pairs):
        return lines
    head: list[Line] = []
    left: list[Line] = []
    right: list[Line] = []
    for ln in lines:
        if any(s.x0 < gutter < s.x1 for s in ln.segments):
            (head if not left and not right else left).append(ln)
            continue
        for side, segs in (
            (left, [s for s in ln.segments if s.x1 <= gutter]),
            (right, [s for s in ln.segments if s.x0 >= gutter]),
        ):
            if segs:
                side.append(Line(segs, ln.top, ln.bottom, ln.size))
    return head + left + right
