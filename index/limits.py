"""Limits on what one file may cost: bytes on disk, what it expands to, text, chunks, time, memory.

The size on disk says little about the work a file makes: a 91 KB DOCX can hold 20 MB of
text. So each limit is checked as early as its measure is known: the file's size before a
byte is read; a zip-based file's uncompressed sizes and compression ratios from its central
directory, before any part is inflated; the extracted text before it is chunked; the chunks
before any is embedded. Time and memory are enforced by the parse worker (index/worker.py).

index/ reads no settings: the values arrive here as parameters. A refusal names the limit
and, when the caller says how its settings are spelled (`env_prefix`), the setting itself.
"""

from __future__ import annotations

import os
import re
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path

from index.errors import LimitError

ZIP_BASED = (".docx", ".docm", ".dotx", ".xlsx", ".pptx", ".odt", ".epub")
RATIO_FLOOR = 2**20  # a part must inflate past 1 MB before its compression ratio counts
MB = 2**20


@dataclass(frozen=True)
class Limits:
    """Per-file budgets. None turns a limit off. Field names match the settings they come from."""

    max_file_mb: float | None = None
    max_text_mb: float | None = None  # extracted text, in 2**20 characters
    max_chunks: int | None = None
    max_unzipped_mb: float | None = None  # sum of a zip-based file's uncompressed parts
    max_zip_ratio: float | None = None  # uncompressed / compressed size of any one part
    max_html_depth: int | None = None  # elements nested in one another
    parse_timeout: float | None = None  # seconds to parse and chunk one file
    parse_memory_mb: float | None = None  # address space a parse may add to its worker
    env_prefix: str | None = None  # "QA_": refusals then say "(QA_MAX_TEXT_MB)"

    def setting(self, field: str) -> str:
        """How the caller spells the setting behind `field`, for messages."""
        return f"{self.env_prefix}{field.upper()}" if self.env_prefix is not None else field

    @property
    def max_file_bytes(self) -> int | None:
        return None if self.max_file_mb is None else int(self.max_file_mb * MB)

    @property
    def parse_memory_bytes(self) -> int | None:
        return None if self.parse_memory_mb is None else int(self.parse_memory_mb * MB)


def mb(n: float) -> str:
    """Megabytes for a message: '0.0871', '19.1', '300'."""
    v = n / MB
    return f"{v:.3g}" if v < 100 else f"{v:.0f}"


def check_size(st: os.stat_result, limits: Limits) -> None:
    """The file on disk, before a byte of it is read."""
    cap = limits.max_file_bytes
    if cap is not None and stat.S_ISREG(st.st_mode) and st.st_size > cap:
        raise LimitError(
            f"file is {mb(st.st_size)} MB, over the {mb(cap)} MB limit "
            f"({limits.setting('max_file_mb')})"
        )


def check_expansion(path: Path, limits: Limits) -> None:
    """What a zip-based file inflates to, read from its central directory alone.

    The directory's sizes can be trusted as an upper bound: Python's zipfile (which
    python-docx reads through) stops a part at its declared size and fails its CRC.
    """
    if path.suffix.lower() not in ZIP_BASED:
        return
    if limits.max_unzipped_mb is None and limits.max_zip_ratio is None:
        return
    try:
        with zipfile.ZipFile(path) as zf:
            parts = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError):
        return  # not a zip at all: the format's reader says what is wrong with it
    total = sum(p.file_size for p in parts)
    if limits.max_unzipped_mb is not None and total > limits.max_unzipped_mb * MB:
        raise LimitError(
            f"unpacks to {mb(total)} MB, over the {limits.max_unzipped_mb:g} MB limit "
            f"({limits.setting('max_unzipped_mb')})"
        )
    if limits.max_zip_ratio is None:
        return
    for p in parts:
        ratio = p.file_size / max(p.compress_size, 1)
        if p.file_size > RATIO_FLOOR and ratio > limits.max_zip_ratio:
            raise LimitError(
                f"{p.filename} is compressed {ratio:.0f}:1 ({mb(p.compress_size)} MB -> "
                f"{mb(p.file_size)} MB), over the {limits.max_zip_ratio:g}:1 limit "
                f"({limits.setting('max_zip_ratio')}); a decompression bomb?"
            )


HTML = (".html", ".htm")
_TAG = re.compile(rb"<(/?)([a-zA-Z][a-zA-Z0-9:-]*)")
_RAW = {b"script", b"style", b"textarea", b"title", b"xmp", b"noscript", b"template"}
# Elements that never hold others, or whose end tag may be left out: neither deepens a page.
_FLAT = {
    *(b"area base br col embed hr img input link meta source track wbr param keygen").split(),
    *(b"p li dt dd tr td th option optgroup thead tbody tfoot colgroup caption rt rp").split(),
    *(b"html head body basefont frame isindex command").split(),
}


def check_html_depth(path: Path, limits: Limits) -> None:
    """How deeply an HTML page nests its elements, from a linear scan of its tags.

    A tree thousands of elements deep costs some parsers quadratic time (a 1 MB page of
    100,000 nested <div>s kept one busy for minutes); browsers flatten past 512 levels.
    An end tag closes the innermost open element of its name, as a forgiving parser would.
    """
    cap = limits.max_html_depth
    if cap is None or path.suffix.lower() not in HTML:
        return
    try:
        with open(path, "rb") as fh:
            data = fh.read() if limits.max_file_bytes is None else fh.read(limits.max_file_bytes)
    except OSError:
        return  # the loader says why it cannot be read
    stack: list[bytes] = []
    pos = 0
    while (m := _TAG.search(data, pos)) is not None:
        pos = m.end()
        name = m.group(2).lower()
        if m.group(1):  # an end tag
            for i in range(len(stack) - 1, max(len(stack) - 64, 0) - 1, -1):
                if stack[i] == name:
                    del stack[i:]
                    break
        elif name in _RAW:  # its content is text, not tags
            end = data.find(b"</" + name, pos)
            pos = len(data) if end < 0 else end
        elif name not in _FLAT and data[data.find(b">", pos) - 1 : data.find(b">", pos)] != b"/":
            stack.append(name)
            if len(stack) > cap:
                raise LimitError(
                    f"HTML nested over {cap} elements deep ({limits.setting('max_html_depth')})"
                )


def check_text(chars: int, limits: Limits) -> None:
    """The extracted text, before it is chunked."""
    cap = limits.max_text_mb
    if cap is not None and chars > cap * MB:
        raise LimitError(
            f"holds {mb(chars)} MB of text, over the {cap:g} MB limit "
            f"({limits.setting('max_text_mb')})"
        )


def check_chunks(count: int, limits: Limits) -> None:
    """The chunks of one document, before any is embedded."""
    cap = limits.max_chunks
    if cap is not None and count > cap:
        raise LimitError(
            f"makes {count} chunks, over the {cap} chunk limit ({limits.setting('max_chunks')})"
        )
