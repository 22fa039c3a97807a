"""Financial tables on a PDF page, found from line geometry and rendered as labelled rows.

A table row is a line whose segments after the label are figures; rows close together
form a table; its value columns are the x-ranges the figures occupy; the lines just above
the first row whose segments sit over those columns are the column headers (stacked top
to bottom, a header spanning several columns belongs to each). Chosen over pdfplumber's
ruling-line tables after measuring both on the 10-Q filings: filings rule only some rows,
so pdfplumber's tables left out the header rows, and its parser ran at a third of the speed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from index.pdf_lines import Line, Segment
from index.tables import is_value, is_year, merge_split_figures, render_row

_UNIT_NOTE = re.compile(
    r"^\(?[^()]*\b(millions?|thousands?|billions?|except|unaudited|in \$|percent)\b[^()]*\)?$",
    re.IGNORECASE,
)
_PERIOD = re.compile(r"\b(ended|as of|months|weeks|quarter|year)\b", re.IGNORECASE)
_MAX_HEADER_LINES = 5
_Columns = list[tuple[float, float]]
_MAX_INNER_LINES = 3  # lines without figures (section labels) a table may hold between rows


@dataclass
class Table:
    start: int  # index of the first line (headers included)
    end: int  # one past the last row
    lines: list[str]  # rendered: one labelled row (or section label) per line


def find_tables(lines: list[Line]) -> list[Table]:
    """The page's tables in order; lines outside them are prose."""
    rows = [_row_parts(line) for line in lines]
    tables: list[Table] = []
    i = 0
    while i < len(lines):
        if rows[i] is None:
            i += 1
            continue
        last = _extend(lines, rows, i)
        columns = _columns([rows[k] for k in range(i, last + 1)])
        start = _header_start(lines, i, columns, tables[-1].end if tables else 0)
        rendered = _render(lines[start : last + 1], rows[start : last + 1], columns)
        tables.append(Table(start, last + 1, rendered))
        i = last + 1
    return tables


_Parts = tuple[str, list[Segment]]  # row label ("" if none), figure segments


def _row_parts(line: Line) -> _Parts | None:
    """(label, figure segments) if the line is a table row, else None."""
    segs = _split_figures(line.segments)
    label = ""
    if not is_value(segs[0].text) and segs[0].text not in ("$", "("):
        label, segs = segs[0].text, segs[1:]
    if not segs or not all(is_value(s.text) or s.text in ("$", "%", "(", ")") for s in segs):
        return None
    figures = [s for s in segs if is_value(s.text)]
    if len({s.text for s in figures}) >= 2 and all(is_year(s.text) for s in figures):
        return None  # "2023   2022" over the columns is a header, not a row
    if not label and len(figures) < 2:
        return None  # a lone figure without a label: a page number, a footnote
    if not figures:
        return None
    return label, segs


def _split_figures(segments: list[Segment]) -> list[Segment]:
    """A segment of several figures set close together ("1,576 1,226") becomes one each."""
    out: list[Segment] = []
    for seg in segments:
        words = seg.words
        if len(words) > 1 and all(is_value(w) or w in ("$", "%") for w, _, _ in words):
            out.extend(Segment(w, x0, x1, [(w, x0, x1)]) for w, x0, x1 in words)
        else:
            out.append(seg)
    return out


def _extend(lines: list[Line], rows: list[_Parts | None], first: int) -> int:
    """Index of the table's last row: rows follow each other, a few label lines between."""
    last = first
    k = first + 1
    while k < len(lines) and k - last <= _MAX_INNER_LINES + 1:
        prev, cur = lines[k - 1], lines[k]
        if cur.top - prev.bottom > 2.5 * max(prev.size, cur.size):
            break
        if rows[k] is not None:
            last = k
        elif len(cur.segments) > 3:
            break
        k += 1
    return last


def _columns(rows: list[_Parts | None]) -> _Columns:
    """The x-ranges figures occupy, from labelled rows when there are any (a figure that
    ends a wrapped label, "... and $(32)", stands in the label column, not a column)."""
    found = [r for r in rows if r]
    labelled = [r for r in found if r[0]] or found
    spans = sorted(
        (s.x0, s.x1) for r in labelled for s in r[1] if s.text not in ("$", "%", "(", ")")
    )
    columns: list[list[float]] = []
    for x0, x1 in spans:
        if columns and x0 <= columns[-1][1]:
            columns[-1][1] = max(columns[-1][1], x1)
        else:
            columns.append([x0, x1])
    return [(a, b) for a, b in columns]


def _covered(seg: Segment, columns: _Columns, size: float) -> list[int]:
    """Columns a header segment stands over: those whose centre it spans, else the nearest."""
    spanned = [
        j for j, (a, b) in enumerate(columns) if seg.x0 - size <= (a + b) / 2 <= seg.x1 + size
    ]
    if spanned:
        return spanned
    mid = (seg.x0 + seg.x1) / 2
    j = min(range(len(columns)), key=lambda j: abs((columns[j][0] + columns[j][1]) / 2 - mid))
    a, b = columns[j]
    return [j] if seg.x0 <= b + 2 * size and seg.x1 >= a - 2 * size else []


def _header_segments(line: Line, columns: _Columns) -> tuple[str, list[Segment]] | None:
    """(stub, segments over the columns) if the line heads columns, else None.

    A header line may begin with a stub over the label column ("(In millions) Shares
    Amount ..."): at least two more segments must then stand over the columns.
    """
    left = columns[0][0] - 3 * line.size  # a header is centred over the figures, not left of them
    segs, stub = line.segments, ""
    if segs[0].x1 < left and len(segs) >= 3:
        stub, segs = segs[0].text, segs[1:]
    if all((s.x0 + s.x1) / 2 >= left and _covered(s, columns, line.size) for s in segs):
        return stub, segs
    return None


def _is_header(line: Line, columns: _Columns) -> bool:
    return _header_segments(line, columns) is not None


def _header_start(lines: list[Line], first: int, columns: _Columns, floor: int) -> int:
    start = first
    k = first - 1
    while k >= floor and first - k <= _MAX_HEADER_LINES:
        line, below = lines[k], lines[k + 1]
        if below.top - line.bottom > 2.5 * max(line.size, below.size):
            break
        if _is_header(line, columns) or _UNIT_NOTE.match(line.text):
            start = k
        elif not (len(line.segments) == 1 and line.x1 < columns[0][0]):
            break  # section labels ("ASSETS", "Current assets:") may stand under the headers
        k -= 1
    while (
        start < first
        and not _is_header(lines[start], columns)
        and not _UNIT_NOTE.match(lines[start].text)
    ):
        start += 1  # the block begins at its first header line
    return start


def _render(lines: list[Line], rows: list[_Parts | None], columns: _Columns) -> list[str]:
    """One string per row, headers carried into each; label lines stay lines of their own.

    A label line naming a period ("Three Months Ended July 30, 2023") heads the rows below
    it as well, so each of them still says which period its figures belong to.
    """
    headers: list[list[str]] = [[] for _ in columns]
    out: list[str] = []
    in_header, wrapped, period = False, "", ""
    for i, (line, row) in enumerate(zip(lines, rows, strict=True)):
        head = _header_segments(line, columns) if row is None and not wrapped else None
        if head is not None and not _UNIT_NOTE.match(line.text):
            fresh = headers if in_header else [[] for _ in columns]
            headers = _add_header(fresh, head, out, columns, line.size)
            in_header, period = True, ""
            continue
        in_header = False
        if row is None:
            nxt = rows[i + 1] if i + 1 < len(rows) else None
            if nxt is not None and (not nxt[0] or nxt[0][:1].islower()):
                wrapped = f"{wrapped} {line.text}".strip()  # the label goes on below
                continue
            out.append(f"{wrapped} {line.text}".strip())
            if _PERIOD.search(out[-1]) and not out[-1].endswith(":"):
                period = out[-1]
            wrapped = ""
            continue
        label = f"{wrapped} {row[0]}".strip()
        wrapped = ""
        heads = [[period, *h] for h in headers] if period else headers
        out.append(render_row(label, _cells(row[1], columns, heads)))
    if wrapped:
        out.append(wrapped)
    return out


def _add_header(
    headers: list[list[str]],
    head: tuple[str, list[Segment]],
    out: list[str],
    columns: _Columns,
    size: float,
) -> list[list[str]]:
    """Stack one header line's texts onto the columns they stand over."""
    stub, segs = head
    if _PERIOD.search(stub):  # "Three Months Ended September 30," | 2022 | 2021
        headers = [[stub, *h] for h in headers]
    elif stub:
        out.append(stub)
    for seg in segs:
        for j in _covered(seg, columns, size):
            headers[j].append(seg.text)
    return headers


def _cells(
    segs: list[Segment], columns: _Columns, headers: list[list[str]]
) -> list[tuple[list[str], str]]:
    cells: list[tuple[list[str], str]] = []
    for value, parts in merge_split_figures([s.text for s in segs]):
        seg = next((segs[p] for p in parts if is_value(segs[p].text)), segs[parts[-1]])
        mid = (seg.x0 + seg.x1) / 2
        j = min(range(len(columns)), key=lambda j: _distance(columns[j], mid))
        cells.append((headers[j], value.replace(" )", ")")))
    return cells


def _distance(column: tuple[float, float], x: float) -> float:
    a, b = column
    return 0.0 if a <= x <= b else min(abs(a - x), abs(b - x))
