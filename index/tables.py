"""Tables as labelled rows: each row one line that carries its row label and column headers.

A reader (or a model) handed "Stock-based compensation expense 1,576 1,226" cannot tell
which period each figure belongs to; handed
"Stock-based compensation expense — Six Months Ended July 30, 2023: 1,576; July 31, 2022: 1,226"
it can. Every format renders through `render_row`; DOCX and HTML tables arrive as grids
(`grid_lines`), PDF tables are rebuilt from word positions in index/pdf_tables.py.
"""

from __future__ import annotations

import re

# A figure as filings print it: 1,576 · (45) · $8,232 · 12 % · 3.6% · — (nil) · n/m
_NUMBER = re.compile(r"^[(\-−–]?\$?\s?\(?\d[\d,]*(\.\d+)?\)?\s?%?\)?$")
_NIL = re.compile(r"^([—–\-−]+|n/?m|n/?a|nm)$", re.IGNORECASE)
_YEAR = re.compile(r"^(19|20)\d\d$")


def is_value(text: str) -> bool:
    """A table figure (or its dash for nil), not a word."""
    t = text.strip()
    return bool(t) and (bool(_NUMBER.match(t)) or bool(_NIL.match(t)))


def is_year(text: str) -> bool:
    return bool(_YEAR.match(text.strip()))


def merge_split_figures(cells: list[str]) -> list[tuple[str, list[int]]]:
    """Rejoin "$" | "8,232" and "12" | "%" that a layout put in cells of their own.

    Returns each non-empty figure or word with the indexes of the cells it was made from.
    """
    out: list[tuple[str, list[int]]] = []
    pending, pending_cols = "", list[int]()
    for j, cell in enumerate(cells):
        c = cell.strip()
        if c in ("$", "("):
            pending, pending_cols = pending + c, [*pending_cols, j]
        elif c in ("%", ")") and out and not pending:
            out[-1] = (out[-1][0] + c, [*out[-1][1], j])
        elif c:
            out.append((pending + c, [*pending_cols, j]))
            pending, pending_cols = "", []
    if pending:
        out.append((pending, pending_cols))
    return out


def column_label(parts: list[str], previous: list[str] | None) -> str:
    """A column's header text, leaving out the leading parts it shares with the column before.

    ["Three Months Ended", "July 31, 2022"] after ["Three Months Ended", "July 30, 2023"]
    reads "July 31, 2022": the spanning header is said once per row.
    """
    if previous:
        shared = 0
        while shared < min(len(parts), len(previous)) - 1 and parts[shared] == previous[shared]:
            shared += 1
        parts = parts[shared:]
    return " ".join(p for p in parts if p)


def render_row(label: str, cells: list[tuple[list[str], str]]) -> str:
    """`label — header: value; header: value`, headers compacted; bare values without headers."""
    pieces: list[str] = []
    previous: list[str] | None = None
    for parts, value in cells:
        if not value:
            continue
        header = column_label(parts, previous)
        pieces.append(f"{header}: {value}" if header else value)
        previous = parts
    body = "; ".join(pieces)
    if label and body:
        return f"{label} — {body}"
    return label or body


def grid_lines(grid: list[list[str]]) -> list[str]:
    """Render a table given as rows of cells (spans repeated per grid column), one line a row.

    Header rows are the leading rows holding no figure outside the first column (for a
    table of words, the first row); each column's header stacks their texts top to bottom.
    """
    rows = [[" ".join(c.split()) for c in row] for row in grid]
    rows = [r for r in rows if any(r)]
    if not rows:
        return []
    width = max(len(r) for r in rows)
    if width == 1:  # a one-column table is a list of lines (often a layout box)
        return [r[0] for r in rows if r[0]]
    rows = [r + [""] * (width - len(r)) for r in rows]
    n_head = _header_count(rows)
    headers: list[list[str]] = []
    for j in range(width):
        parts: list[str] = []
        for row in rows[:n_head]:
            cell = row[j]
            if cell and (not parts or parts[-1] != cell):
                parts.append(cell)
        headers.append(parts)
    lines = (_grid_row(row, headers) for row in rows[n_head:])
    return [line for line in lines if line]


def _header_count(rows: list[list[str]]) -> int:
    for i, row in enumerate(rows):
        if any(is_value(c) and not is_year(c) for c in row[1:]):
            return i
    return 1 if len(rows) >= 2 and len(rows[0]) >= 2 else 0


def _grid_row(row: list[str], headers: list[list[str]]) -> str:
    """One body row: a merged cell repeated over its span counts once, under its first column."""
    label = row[0]
    cells: list[tuple[list[str], str]] = []
    previous = label
    for value, cols in merge_split_figures(row[1:]):
        if value == previous:  # the same merged cell seen again in the next grid column
            continue
        previous = value
        # a "$" cell and its figure may carry the header unevenly: take the fuller one
        own = max((headers[j + 1] for j in reversed(cols)), key=len)
        cells.append((own, value))
    return render_row(label, cells)
