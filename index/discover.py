"""Which files an ingest covers: folders expanded, and a reason for each path that cannot be used.

Sorted, hidden entries skipped, symlinked folders never followed (no loops); broken links,
FIFOs, sockets, devices and unreadable folders each get a one-line reason.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from index.loaders import SUPPORTED

Status = Literal["added", "updated", "unchanged", "duplicate", "removed", "skipped", "failed"]


@dataclass
class FileReport:
    path: str
    status: Status
    chunks: int = 0
    chars: int = 0
    pages: int = 0
    reason: str | None = None


def discover(paths: Iterable[str | Path]) -> tuple[list[Path], list[Path], list[FileReport]]:
    """Expand folders. Returns (files, folders scanned, reports for paths that cannot be used)."""
    files: list[Path] = []
    folders: list[Path] = []
    problems: list[FileReport] = []
    seen: set[Path] = set()
    for raw in paths:
        p = Path(raw).expanduser()
        if p.is_dir():
            folders.append(p.resolve())
            for f, status, reason in _walk(p):
                if reason is not None:
                    problems.append(FileReport(str(f), status, reason=reason))
                elif f.suffix.lower() not in SUPPORTED:
                    problems.append(FileReport(str(f), "skipped", reason=_unsupported(f)))
                elif f.resolve() not in seen:
                    seen.add(f.resolve())
                    files.append(f.resolve())
        elif p.is_file():
            if p.suffix.lower() not in SUPPORTED:
                problems.append(FileReport(str(p), "failed", reason=_unsupported(p)))
            elif p.resolve() not in seen:
                seen.add(p.resolve())
                files.append(p.resolve())
        else:
            problems.append(FileReport(str(p), "failed", reason=_irregular(p)))
    return files, folders, problems


def _unsupported(p: Path) -> str:
    return f"unsupported format {p.suffix or '(none)'}"


def _walk(root: Path) -> Iterator[tuple[Path, Status, str | None]]:
    """Sorted, skips hidden entries, never follows a symlinked folder (no loops), and yields
    (path, status, reason) for entries that cannot be read: broken links, FIFOs, locked folders.
    """
    errors: list[OSError] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False, onerror=errors.append):
        while errors:
            e = errors.pop()
            yield Path(e.filename or dirpath), "failed", f"cannot read folder: {e.strerror or e}"
        keep = []
        for d in sorted(n for n in dirnames if not n.startswith(".")):
            if (Path(dirpath) / d).is_symlink():
                yield Path(dirpath) / d, "skipped", "symlinked folder not followed"
            else:
                keep.append(d)
        dirnames[:] = keep
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            f = Path(dirpath) / name
            if f.is_file():
                yield f, "added", None
            elif f.suffix.lower() in SUPPORTED:
                yield f, "failed", _irregular(f)
            else:
                yield f, "skipped", _unsupported(f)
    for e in errors:  # the root itself could not be listed
        yield Path(e.filename or root), "failed", f"cannot read folder: {e.strerror or e}"


def _irregular(p: Path) -> str:
    """Why a path that is neither a regular file nor a folder cannot be ingested."""
    try:
        st = p.stat()
    except FileNotFoundError:
        return "broken symbolic link" if p.is_symlink() else "no such file or folder"
    except OSError as e:
        if e.errno == errno.ELOOP:
            return "symbolic link loop"
        return f"cannot read file: {e.strerror or e}"
    kinds = {stat.S_IFIFO: "a FIFO", stat.S_IFSOCK: "a socket", stat.S_IFCHR: "a device"}
    return f"not a regular file ({kinds.get(stat.S_IFMT(st.st_mode), 'special file')})"
