"""PDF -> the text a reader sees: whole paragraphs, tables as labelled rows, page ranges.

Each paragraph is one line (its visual lines joined, words hyphenated at a line end made
whole), each table row is one line carrying its label and column headers, and headers,
footers and page numbers repeated on every page are dropped. Pages are separated by a
blank line unless a sentence runs on over the break. The parser is PDFium (pypdfium2):
it reads filings that trip pypdf's safety limits, at several times pypdf's speed.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from index.errors import PdfError
from index.pdf_lines import Line, page_lines, reading_order
from index.pdf_tables import find_tables

MAX_PAGES = 10_000  # bounds the work one file may ask for; real filings have a few hundred
MAX_PAGE_GLYPHS = 500_000  # a page's characters; a dense page of small print holds ~10,000
_EDGE = 2  # running heads and feet: the first and last lines of a page
_BULLETS = frozenset("•●◦▪■○–-·*")
_PAGE_NUMBER = re.compile(
    r"^(page\s+)?([-–]\s*)?(\d{1,3}|[ivxlc]{1,6})(\s*[-–])?(\s*(of|/)\s*\d{1,4})?$", re.I
)
_NOT_TITLES = frozenset({"table of contents", "contents", "index"})
_TRAILING_NUMBER = re.compile(r"[\s|·–-]*(page\s*)?\d+\s*$", re.I)
_OPEN_END = re.compile(r"[^.!?:;\"”’)\]]$")


@dataclass
class Unit:
    text: str
    prose: bool  # a paragraph (may run on over a page break), not a table row


def read_pdf(data: bytes) -> tuple[str, str, list[tuple[int, int]]]:
    """(text, title, [(start, end) per page])."""
    doc = _open(data)
    try:
        if len(doc) > MAX_PAGES:
            raise PdfError(
                f"PDF over a safety limit: {len(doc):,} pages (at most {MAX_PAGES:,} are read)"
            )
        pages = [_lines_of(doc, i) for i in range(len(doc))]
        title = str((doc.get_metadata_dict() or {}).get("Title") or "").strip()
    finally:
        doc.close()
    running = _drop_running_heads(pages)
    if not _wordy(title):  # "0000320193-23-000064": an archive id, not a title
        title = running if _wordy(running) else ""
    every = [ln for lines, _ in pages for ln in lines]
    margins = (min((ln.x0 for ln in every), default=0.0), max((ln.x1 for ln in every), default=0.0))
    text, spans = _assemble([_units(lines, margins) for lines, _ in pages])
    return text, title, spans


def _open(data: bytes) -> Any:
    import pypdfium2 as pdfium

    if b"%%EOF" not in data[-4096:]:
        raise PdfError("corrupt PDF: truncated (no end-of-file marker)")
    try:
        return pdfium.PdfDocument(data)
    except pdfium.PdfiumError as e:
        code = getattr(e, "err_code", None)
        if code == 4:  # FPDF_ERR_PASSWORD
            raise PdfError("encrypted PDF (needs a password)") from None
        if code == 6:  # FPDF_ERR_SECURITY
            raise PdfError("encrypted PDF (cannot be decrypted here)") from None
        raise PdfError(f"corrupt PDF: {_reason(e)}") from None


def _reason(e: Exception) -> str:
    text = str(e).splitlines()[0] if str(e) else type(e).__name__
    found = re.search(r"PDFium: ([^)]*)", text)
    return found.group(1).strip(". ") if found else text


def _lines_of(doc: Any, index: int) -> tuple[list[Line], float]:
    page = doc[index]
    try:
        lines, height = page_lines(page, max_glyphs=MAX_PAGE_GLYPHS)
        return reading_order(lines), height
    except OverflowError:
        raise PdfError(
            f"PDF over a safety limit: page {index + 1} holds more than "
            f"{MAX_PAGE_GLYPHS:,} characters"
        ) from None
    finally:
        page.close()


def _head_key(line: Line) -> str:
    return re.sub(r"\d+", "#", " ".join(line.text.lower().split()))


def _drop_running_heads(pages: list[tuple[list[Line], float]]) -> str:
    """Remove page numbers and the edge lines (first or last few) that recur on most pages.

    Position on the page is no guide (a filing printed to scale keeps its page number in the
    middle of the sheet), so the test is being at the edge of the page's text and recurring.
    Returns the commonest running head, page number cut off: it names the document
    ("Apple Inc. | Q2 2023 Form 10-Q"), so it is kept apart as a title candidate.
    """
    if len(pages) < 2:
        return ""
    counts: Counter[str] = Counter()
    first_seen: dict[str, str] = {}
    for lines, _ in pages:
        for ln in _edges(lines):
            first_seen.setdefault(_head_key(ln), ln.text)
        counts.update({_head_key(ln) for ln in _edges(lines)})
    recurring = {k for k, n in counts.items() if n >= max(2, len(pages) // 2)}
    for lines, _ in pages:
        edge = {id(ln) for ln in _edges(lines)}
        lines[:] = [
            ln
            for ln in lines
            if id(ln) not in edge
            or not (_head_key(ln) in recurring or _PAGE_NUMBER.match(ln.text.strip()))
        ]
    named = [k for k, _ in counts.most_common() if k in recurring and k not in _NOT_TITLES]
    return _TRAILING_NUMBER.sub("", first_seen[named[0]]).strip() if named else ""


def _wordy(title: str) -> bool:
    return len(re.findall(r"[^\W\d_]{2,}", title)) >= 2


def _edges(lines: list[Line]) -> list[Line]:
    return lines[:_EDGE] + lines[max(_EDGE, len(lines) - _EDGE) :]


def _units(lines: list[Line], margins: tuple[float, float]) -> list[Unit]:
    """The page as paragraphs and table rows, in reading order (margins: the document's)."""
    units: list[Unit] = []
    left, right = margins
    i = 0
    for table in [*find_tables(lines), None]:
        stop = table.start if table else len(lines)
        units.extend(Unit(p, True) for p in _paragraphs(lines[i:stop], left, right))
        if table:
            units.extend(Unit(row, False) for row in table.lines)
            i = table.end
    return units


def _paragraphs(lines: list[Line], left: float, right: float) -> list[str]:
    out: list[str] = []
    current = ""
    prev: Line | None = None
    for line in lines:
        text = _line_text(line)
        if prev is not None and _continues(prev, line, text, left, right):
            current = _join(current, text)
        else:
            if current:
                out.append(current)
            current = text
        prev = line
    if current:
        out.append(current)
    return out


def _line_text(line: Line) -> str:
    return " ".join(line.text.split())


def _continues(prev: Line, cur: Line, text: str, left: float, right: float) -> bool:
    """Does `cur` carry on the paragraph `prev` ends? Spacing, size, width and a bullet decide."""
    size = max(prev.size, cur.size)
    if cur.centre - prev.centre > 1.35 * size or abs(cur.size - prev.size) > 0.15 * size:
        return False
    if len(prev.segments) > 2 or len(cur.segments) > 2 or text[:1] in _BULLETS:
        return False
    starts_lower = text[:1].islower()
    short = prev.x1 < right - 0.2 * (right - left)  # a heading or a paragraph's last line
    return starts_lower or not short


def _join(paragraph: str, text: str) -> str:
    if paragraph[-1:] in ("\u00ad", "\x02"):
        return paragraph[:-1] + text
    if paragraph[-1:] == "-" and paragraph[-2:-1].isalpha() and text[:1].islower():
        return paragraph[:-1] + text  # "reflect-" + "ing": a word split at the line end
    return f"{paragraph} {text}"


def _assemble(pages: list[list[Unit]]) -> tuple[str, list[tuple[int, int]]]:
    """Units one per line, pages a blank line apart unless a sentence runs on over the break."""
    parts: list[str] = []
    spans: list[tuple[int, int]] = []
    pos = 0
    last: Unit | None = None
    for units in pages:
        start = pos
        for k, unit in enumerate(units):
            if parts:
                if k == 0 and last is not None and _runs_on(last, unit):
                    sep = " "
                else:
                    sep = "\n\n" if k == 0 else "\n"
                parts.append(sep)
                pos += len(sep)
            if k == 0:
                start = pos
            parts.append(unit.text)
            pos += len(unit.text)
            last = unit
        spans.append((start, pos))
    return "".join(parts), spans


def _runs_on(last: Unit, first: Unit) -> bool:
    return (
        last.prose
        and first.prose
        and bool(_OPEN_END.search(last.text))
        and first.text[:1].islower()
    )
