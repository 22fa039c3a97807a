"""File -> LoadedDocument: the exact text every citation offset points into.

One function per format. For .txt/.md the text is the file decoded as UTF-8, unchanged,
so a reader can check a quote against the file itself. Every failure is a `LoadError`
with a message fit to show a user; nothing here crashes on bad bytes.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

# Bump when extraction changes: the index fingerprint records it, so old text is rebuilt.
LOADER_VERSION = 1
SUPPORTED = (".txt", ".md", ".markdown", ".pdf", ".html", ".htm", ".docx")


class LoadError(Exception):
    """A file that cannot be turned into text; the message says why, in one line."""


@dataclass(frozen=True)
class PageSpan:
    page: int  # 1-based
    start: int
    end: int


@dataclass
class LoadedDocument:
    path: str
    text: str
    title: str
    format: str
    size: int
    mtime: float
    sha256: str
    pages: list[PageSpan] = field(default_factory=list)

    @property
    def source(self) -> str:
        return Path(self.path).name

    def page_at(self, offset: int) -> int | None:
        for span in self.pages:
            if span.start <= offset < span.end or (offset == span.end == len(self.text)):
                return span.page
        return None


def load(path: Path, *, max_bytes: int | None = None) -> LoadedDocument:
    """Read one file. Raises LoadError for anything unusable."""
    suffix = path.suffix.lower()
    reader = _READERS.get(suffix)
    if reader is None:
        raise LoadError(f"unsupported format {suffix or '(no extension)'}")
    try:
        stat = path.stat()
        if max_bytes is not None and stat.st_size > max_bytes:
            mb = stat.st_size / 2**20
            raise LoadError(f"file is {mb:.1f} MB, over the {max_bytes / 2**20:.0f} MB limit")
        data = path.read_bytes()
    except PermissionError:
        raise LoadError("permission denied") from None
    except OSError as e:
        raise LoadError(f"cannot read file: {e.strerror or e}") from None
    if not data.strip():
        raise LoadError("file is empty")
    text, title, pages = reader(data)
    if not text.strip():
        raise LoadError("no text found")
    return LoadedDocument(
        path=str(path),
        text=text,
        title=title or _first_line(text),
        format=suffix.lstrip("."),
        size=stat.st_size,
        mtime=stat.st_mtime,
        sha256=hashlib.sha256(data).hexdigest(),
        pages=pages,
    )


Reader = Callable[[bytes], tuple[str, str, list[PageSpan]]]


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:200]
    return ""


def decode_text(data: bytes) -> str:
    """UTF-8 first (unchanged), then a detected legacy encoding; binary is refused."""
    if b"\x00" in data[:8192]:
        raise LoadError("binary content, not text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None or best.chaos > 0.3:
        raise LoadError("not valid text in UTF-8 or any known encoding")
    log.info("decoded as %s", best.encoding)
    return str(best)


def _read_text(data: bytes) -> tuple[str, str, list[PageSpan]]:
    text = decode_text(data)
    controls = sum(1 for ch in text[:8192] if ord(ch) < 32 and ch not in "\t\n\r\f")
    if controls > 0.05 * min(len(text), 8192):
        raise LoadError("binary content, not text")
    return text, "", []


def _read_pdf(data: bytes) -> tuple[str, str, list[PageSpan]]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise LoadError("encrypted PDF (needs a password)")
        parts: list[str] = []
        pages: list[PageSpan] = []
        pos = 0
        for number, page in enumerate(reader.pages, start=1):
            page_text = (page.extract_text() or "").strip()
            if parts:
                parts.append("\n\n")
                pos += 2
            parts.append(page_text)
            pages.append(PageSpan(number, pos, pos + len(page_text)))
            pos += len(page_text)
        title = str(reader.metadata.get("/Title") or "") if reader.metadata else ""
    except LoadError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError, AssertionError) as e:
        raise LoadError(
            f"corrupt PDF: {str(e).splitlines()[0] if str(e) else type(e).__name__}"
        ) from None
    except Exception as e:  # pypdf raises many kinds on broken files
        if "crypt" in str(e).lower() or type(e).__name__ == "DependencyError":
            raise LoadError("encrypted PDF (cannot be decrypted here)") from None
        raise LoadError(f"corrupt PDF: {type(e).__name__}") from None
    text = "".join(parts)
    if not text.strip():
        raise LoadError("PDF has no text layer (scanned image?); OCR is not supported")
    return text, title, pages


_BLOCK_GAP = re.compile(r"\n\s*\n\s*")


def _read_html(data: bytes) -> tuple[str, str, list[PageSpan]]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(decode_text(data), "html.parser")
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    for tag in soup(["script", "style", "noscript", "template", "head", "svg"]):
        tag.decompose()
    lines = (line.strip() for line in soup.get_text("\n").splitlines())
    text = "\n".join(line for line in lines if line)
    return _BLOCK_GAP.sub("\n\n", text), title, []


def _read_docx(data: bytes) -> tuple[str, str, list[PageSpan]]:
    import zipfile

    from docx import Document as DocxDocument

    try:
        doc = DocxDocument(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError) as e:
        raise LoadError(f"corrupt DOCX: {type(e).__name__}") from None
    except Exception as e:
        raise LoadError(f"corrupt DOCX: {type(e).__name__}") from None
    blocks = [p.text for p in doc.paragraphs if p.text.strip()]
    for table in doc.tables:
        for row in table.rows:
            cells = [c.text.strip() for c in row.cells]
            if any(cells):
                blocks.append(" | ".join(cells))
    return "\n".join(blocks), doc.core_properties.title or "", []


_READERS: dict[str, Reader] = {
    ".txt": _read_text,
    ".md": _read_text,
    ".markdown": _read_text,
    ".pdf": _read_pdf,
    ".html": _read_html,
    ".htm": _read_html,
    ".docx": _read_docx,
}
