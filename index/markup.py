"""HTML and DOCX -> text: blocks one per line, tables as labelled rows in document order."""

from __future__ import annotations

import io
from typing import Any

from index.tables import grid_lines

_HTML_BLOCKS = [
    "p",
    "div",
    "br",
    "li",
    "ul",
    "ol",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "tr",
    "table",
    "section",
    "article",
    "header",
    "footer",
    "nav",
    "blockquote",
    "pre",
    "dd",
    "dt",
    "dl",
    "figure",
    "figcaption",
    "hr",
    "main",
    "aside",
    "td",
    "th",
    "caption",
]
_MAX_SPAN = 100  # a colspan of 10,000 must not make 10,000 cells


def read_html(markup: str) -> tuple[str, str]:
    """(text, title): visible text, blocks one per line, each table row one labelled line."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(markup, "html.parser")
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    for tag in soup(["script", "style", "noscript", "template", "head", "svg"]):
        tag.decompose()
    for table in reversed(soup.find_all("table")):  # inner tables first
        caption = table.find("caption")
        lines = [caption.get_text(" ")] if caption else []
        lines += grid_lines(_html_grid(table))
        table.replace_with("\n" + "\n".join(lines) + "\n")
    for tag in soup(_HTML_BLOCKS):  # only blocks break lines: <b>, <a>, <span> stay inline
        tag.insert_before("\n")
        tag.insert_after("\n")
    text = (" ".join(line.split()) for line in soup.get_text().splitlines())
    return "\n".join(line for line in text if line), title


def _html_grid(table: Any) -> list[list[str]]:
    """Rows of cell texts, a cell spanning n columns repeated n times (rowspans left out)."""
    grid: list[list[str]] = []
    for tr in table.find_all("tr"):
        row: list[str] = []
        for cell in tr.find_all(["td", "th"], recursive=False):
            text = " ".join(cell.get_text(" ").split())
            row.extend([text] * _span(cell.get("colspan")))
        grid.append(row)
    return grid


def _span(value: Any) -> int:
    try:
        return max(1, min(int(str(value)), _MAX_SPAN))
    except (TypeError, ValueError):
        return 1


def read_docx(data: bytes) -> tuple[str, str]:
    """(text, title): paragraphs and tables in document order, each table row one line."""
    from docx import Document as DocxDocument
    from docx.table import Table

    from index.errors import LoadError

    try:
        doc = DocxDocument(io.BytesIO(data))
    except Exception as e:  # python-docx raises many kinds on a broken package
        raise LoadError(f"corrupt DOCX: {type(e).__name__}") from None
    blocks: list[str] = []
    for item in doc.iter_inner_content():
        if isinstance(item, Table):
            grid = [[cell.text for cell in row.cells] for row in item.rows]
            blocks.extend(grid_lines(grid))
        elif item.text.strip():
            blocks.append(item.text)
    return "\n".join(blocks), doc.core_properties.title or ""
