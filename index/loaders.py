"""File -> LoadedDocument: the exact text every citation offset points into.

One function per format. For .txt/.md the text is the file decoded as UTF-8, unchanged,
so a reader can check a quote against the file itself. Every failure is a `LoadError`
with a message fit to show a user; nothing here crashes on bad bytes.
"""

from __future__ import annotations

import codecs
import hashlib
import logging
import os
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from index.errors import LoadError

log = logging.getLogger(__name__)

# Bump when extraction changes: the index fingerprint records it, so old text is rebuilt.
LOADER_VERSION = 5
# 2: legacy 8-bit text as cp1252, UTF-16 BOM; 3: inline HTML stays inline; 4: no # in titles;
# 5: PDFs read by PDFium as whole paragraphs, tables in every format as labelled rows


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
        return page_at(self.pages, offset, len(self.text))


def page_at(pages: Sequence[PageSpan], offset: int, length: int) -> int | None:
    """The page holding character `offset` of a text `length` long (its end: the last page)."""
    for span in pages:
        if span.start <= offset < span.end or (offset == span.end == length):
            return span.page
    return None


def check_file(path: Path, *, max_bytes: int | None = None) -> os.stat_result:
    """Cheap checks before any byte is read: format, a regular file, the size limit."""
    suffix = path.suffix.lower()
    if suffix not in _READERS:
        raise LoadError(f"unsupported format {suffix or '(no extension)'}")
    try:
        st = path.stat()
    except PermissionError:
        raise LoadError("permission denied") from None
    except OSError as e:
        raise LoadError(f"cannot read file: {e.strerror or e}") from None
    if not stat.S_ISREG(st.st_mode):
        raise LoadError("not a regular file")
    if max_bytes is not None and st.st_size > max_bytes:
        raise LoadError(f"file is {_mb(st.st_size)} MB, over the {_mb(max_bytes)} MB limit")
    return st


def load(path: Path, *, max_bytes: int | None = None) -> LoadedDocument:
    """Read one file. Raises LoadError for anything unusable."""
    suffix = path.suffix.lower()
    st = check_file(path, max_bytes=max_bytes)
    reader = _READERS[suffix]
    try:
        with open(path, "rb") as fh:  # read no more than the limit, even if the file grew
            data = fh.read() if max_bytes is None else fh.read(max_bytes + 1)
    except PermissionError:
        raise LoadError("permission denied") from None
    except OSError as e:
        raise LoadError(f"cannot read file: {e.strerror or e}") from None
    if max_bytes is not None and len(data) > max_bytes:
        raise LoadError(f"file grew over the {_mb(max_bytes)} MB limit while being read")
    if not data:
        raise LoadError("file is empty")
    if not data.strip():
        raise LoadError("file holds only whitespace")
    try:
        text, title, pages = reader(data)
    except LoadError:
        raise
    except Exception as e:  # a parser bug on hostile bytes must not stop the whole ingest
        log.debug("%s: %s failed", path, suffix, exc_info=True)
        raise LoadError(f"cannot parse this {suffix} file ({type(e).__name__})") from None
    if not text.strip():
        raise LoadError("no text found")
    return LoadedDocument(
        path=str(path),
        text=text,
        title=title or _first_line(text),
        format=suffix.lstrip("."),
        size=len(data),  # what was read, even if the file changed since stat()
        mtime=st.st_mtime,
        sha256=hashlib.sha256(data).hexdigest(),
        pages=pages,
    )


def _mb(n: int) -> str:
    mb = n / 2**20
    return f"{mb:.3g}" if mb < 100 else f"{mb:.0f}"


Reader = Callable[[bytes], tuple[str, str, list[PageSpan]]]


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip().lstrip("#").strip()[:200]  # a Markdown heading's text
    return ""


def decode_text(data: bytes) -> str:
    """UTF-8 first (unchanged), then UTF-16 with a BOM, then legacy 8-bit text; binary is refused.

    Legacy text is read as Windows-1252 (a superset of Latin-1's printable range) when it
    decodes cleanly into Western text: charset detection alone misreads short French or
    German files as Baltic or Central European code pages. Other text goes to detection.
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise LoadError("not valid UTF-16 text despite its byte-order mark") from None
    if b"\x00" in data[:8192]:
        raise LoadError("binary content, not text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    western = _western_legacy(data)
    if western is not None:
        log.info("decoded as cp1252")
        return western
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None or best.chaos > 0.3:
        raise LoadError("not valid text in UTF-8 or any known encoding")
    log.info("decoded as %s", best.encoding)
    return str(best)


def _western_legacy(data: bytes) -> str | None:
    """The cp1252 reading of `data` if it looks like Western European text, else None."""
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:  # bytes cp1252 leaves undefined: another code page
        return None
    letters = sum(ch.isalpha() for ch in text)
    accented = sum(ch.isalpha() for ch in text if ord(ch) > 127)
    if accented > 0.3 * max(letters, 1):  # mostly non-ASCII letters: Cyrillic, Greek...
        return None
    for i, ch in enumerate(text[1:-1], start=1):  # "mi³oœæ": a Central European code page
        if (
            ord(ch) > 127
            and not ch.isalpha()
            and ch not in _IN_WORD_OK
            and text[i - 1].isalpha()
            and text[i + 1].isalpha()
        ):
            return None
    return text


_IN_WORD_OK = "\u2019\u2018\u00b4\u00b7\u00ad\u2013"  # ’ ‘ ´ · soft hyphen –


def _read_text(data: bytes) -> tuple[str, str, list[PageSpan]]:
    text = decode_text(data)
    controls = sum(1 for ch in text[:8192] if ord(ch) < 32 and ch not in "\t\n\r\f")
    if controls > 0.05 * min(len(text), 8192):
        raise LoadError("binary content, not text")
    return text, "", []


def _read_pdf(data: bytes) -> tuple[str, str, list[PageSpan]]:
    from index.errors import PdfError
    from index.pdf import read_pdf

    try:
        text, title, spans = read_pdf(data)
    except PdfError as e:
        raise LoadError(str(e)) from None
    if not text.strip():
        raise LoadError("PDF has no text layer (scanned image?); OCR is not supported")
    pages = [PageSpan(n, start, end) for n, (start, end) in enumerate(spans, start=1)]
    return text, title, pages


def _read_html(data: bytes) -> tuple[str, str, list[PageSpan]]:
    from index.markup import read_html

    text, title = read_html(decode_text(data))
    return text, title, []


def _read_docx(data: bytes) -> tuple[str, str, list[PageSpan]]:
    from index.markup import read_docx

    text, title = read_docx(data)
    return text, title, []


_READERS: dict[str, Reader] = {
    ".txt": _read_text,
    ".md": _read_text,
    ".markdown": _read_text,
    ".pdf": _read_pdf,
    ".html": _read_html,
    ".htm": _read_html,
    ".docx": _read_docx,
}
# The formats the loaders read, in one place: check_file, discovery and the UI's uploads.
SUPPORTED = tuple(_READERS)
