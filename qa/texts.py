"""The loader's text of ingested documents: what every citation offset indexes into.

One reader for the answerers, the UI and eval. A `DocumentTexts` reads each document once
and keeps it for as long as it lives: make one per question (or per rendered answer, per
eval run), so a document re-ingested meanwhile is read afresh by the next one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from index import PageSpan, page_at

# path as ingested -> (text, page ranges), or None when no such document is in the index
ReadText = Callable[[str], "tuple[str, list[PageSpan]] | None"]


@dataclass(frozen=True)
class DocumentText:
    """One document's text and, for a PDF, which characters each page holds."""

    path: str
    text: str
    pages: tuple[PageSpan, ...] = ()

    def page_at(self, offset: int) -> int | None:
        """The 1-based page holding character `offset` (the text's end: its last page)."""
        return page_at(self.pages, offset, len(self.text))


class DocumentTexts:
    """Document texts by path, each read at most once (a path not in the index: None)."""

    def __init__(self, read: ReadText) -> None:
        self._read = read
        self._found: dict[str, DocumentText | None] = {}

    def get(self, path: str) -> DocumentText | None:
        if path not in self._found:
            found = self._read(path)
            self._found[path] = DocumentText(path, found[0], tuple(found[1])) if found else None
        return self._found[path]

    def text(self, path: str) -> str | None:
        doc = self.get(path)
        return doc.text if doc else None

    def page_at(self, path: str, offset: int) -> int | None:
        doc = self.get(path)
        return doc.page_at(offset) if doc else None
