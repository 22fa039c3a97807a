"""Store uploaded files under `<data_dir>/uploads` before they are ingested.

Browsers and API clients choose the file name, so it is untrusted: it is reduced to a
plain base name (no folders, no `..`, no leading dot), only the formats the loaders read
are kept, and files over the size cap are refused with a message saying why.
"""

from __future__ import annotations

import re
import shutil
import unicodedata
from collections.abc import Iterable
from pathlib import Path

from qa import SUPPORTED

ALLOWED = SUPPORTED  # the formats the loaders read (derived from them in index/loaders.py)
MAX_NAME = 120


def safe_name(name: str) -> str:
    """A file name that cannot leave its folder: `../../x.txt` -> `x.txt`."""
    base = unicodedata.normalize("NFKC", name).replace("\\", "/").rsplit("/", 1)[-1]
    base = re.sub(r"[^\w.\- ]+", "_", base)
    base = re.sub(r"\s+", " ", base).strip(" ._")
    stem, dot, ext = base.rpartition(".")
    if not dot:
        stem, ext = base, ""
    stem = stem.strip(" ._")[: MAX_NAME - len(ext) - 1] or "upload"
    return f"{stem}.{ext.lower()}" if ext else stem


def check(name: str, size: int, max_mb: float) -> str | None:
    """Why this file cannot be uploaded, or None when it can."""
    ext = Path(safe_name(name)).suffix.lower()
    if ext not in ALLOWED:
        return f"unsupported type {ext or '(no extension)'}; allowed: {' '.join(ALLOWED)}"
    if size > max_mb * 2**20:
        return f"{size / 2**20:.1f} MB is over the upload limit of {max_mb:g} MB (QA_MAX_UPLOAD_MB)"
    if size == 0:
        return "the file is empty"
    return None


def save(
    files: Iterable[tuple[str, Path]], folder: Path, max_mb: float
) -> tuple[list[Path], list[tuple[str, str]]]:
    """Copy (original name, temp path) pairs into `folder`. Returns (saved, rejected)."""
    folder.mkdir(parents=True, exist_ok=True)
    root = folder.resolve()
    saved: list[Path] = []
    rejected: list[tuple[str, str]] = []
    for name, src in files:
        display = Path(name.replace("\\", "/")).name or name
        try:
            reason = check(name, src.stat().st_size, max_mb)
        except OSError as e:
            reason = f"could not read the upload ({e.strerror or e})"
        if reason:
            rejected.append((display, reason))
            continue
        dest = (root / safe_name(name)).resolve()
        if dest.parent != root:  # unreachable after safe_name; kept as a last guard
            rejected.append((display, "unsafe file name"))
            continue
        shutil.copyfile(src, dest)
        if dest not in saved:
            saved.append(dest)
    return saved, rejected


def is_upload(path: str | Path, folder: Path) -> bool:
    """True when `path` is a file this UI stored (so deleting the document may delete it)."""
    try:
        return Path(path).resolve().parent == folder.resolve()
    except OSError:
        return False
