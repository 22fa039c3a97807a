"""Incremental, idempotent ingestion: files in, IngestReport out.

Unchanged files (same SHA-256 at the same path) are skipped without being parsed; changed
files replace their old chunks; files gone from an ingested folder are removed. Parsing
runs in a thread ahead of the embedder (torch releases the GIL), and chunks from many
small files are embedded together in large batches, since the model is the bottleneck.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from index.chunking import Chunk, chunk_document, doc_id_for, embed_text
from index.embeddings import embed_texts
from index.loaders import SUPPORTED, LoadedDocument, LoadError, load
from index.store import Store

log = logging.getLogger(__name__)

Status = Literal["added", "updated", "unchanged", "duplicate", "removed", "skipped", "failed"]
Progress = Callable[[int, int, str], None]  # (files done, files total, current file)


@dataclass
class FileReport:
    path: str
    status: Status
    chunks: int = 0
    chars: int = 0
    pages: int = 0
    reason: str | None = None


@dataclass
class IngestReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    skipped: int = 0
    chunks: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    files: list[FileReport] = field(default_factory=list)
    repaired: int = 0

    def record(self, report: FileReport) -> None:
        self.files.append(report)
        if report.status == "failed":
            self.failed.append((report.path, report.reason or "failed"))
        elif report.status in ("added", "updated", "unchanged", "removed"):
            setattr(self, report.status, getattr(self, report.status) + 1)
        else:
            self.skipped += 1
        if report.status in ("added", "updated"):
            self.chunks += report.chunks

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["failed"] = [list(f) for f in self.failed]
        return d


@dataclass(frozen=True)
class IngestOptions:
    chunk_size: int
    chunk_overlap: int
    embed_batch_size: int = 64
    max_file_bytes: int | None = None


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
            for f in _walk(p):
                if f.suffix.lower() in SUPPORTED:
                    if f.resolve() not in seen:
                        seen.add(f.resolve())
                        files.append(f.resolve())
                else:
                    problems.append(
                        FileReport(
                            str(f), "skipped", reason=f"unsupported format {f.suffix or '(none)'}"
                        )
                    )
        elif p.is_file():
            if p.suffix.lower() not in SUPPORTED:
                problems.append(
                    FileReport(
                        str(p), "failed", reason=f"unsupported format {p.suffix or '(none)'}"
                    )
                )
            elif p.resolve() not in seen:
                seen.add(p.resolve())
                files.append(p.resolve())
        else:
            problems.append(FileReport(str(p), "failed", reason="no such file or folder"))
    return files, folders, problems


def _walk(root: Path) -> Iterator[Path]:
    """Sorted, skips hidden entries, and never follows a symlinked folder (no loops)."""
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith("."):
                f = Path(dirpath) / name
                if f.is_file():
                    yield f


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass
class _Parsed:
    path: Path
    doc_id: str
    status: Status
    doc: LoadedDocument | None = None
    chunks: list[Chunk] = field(default_factory=list)
    reason: str | None = None


def ingest(
    store: Store,
    paths: Iterable[str | Path],
    options: IngestOptions,
    progress: Progress | None = None,
) -> IngestReport:
    report = IngestReport()
    files, folders, problems = discover(paths)
    for p in problems:
        report.record(p)
    with store.writer():
        orphans, dropped = store.repair()
        report.repaired = orphans + dropped
        known = {d.path: d for d in store.documents()}
        total = len(files)

        shas: dict[str, str] = {}  # content seen in this run, to catch twins within it

        def parse(path: Path) -> _Parsed:
            return _parse(store, path, known, shas, options)

        batch: list[_Parsed] = []
        pending = 0
        with ThreadPoolExecutor(max_workers=1) as pool:
            for done, parsed in enumerate(pool.map(parse, files), start=1):
                if progress:
                    progress(done, total, parsed.path.name)
                if parsed.doc is None:
                    report.record(FileReport(str(parsed.path), parsed.status, reason=parsed.reason))
                    continue
                batch.append(parsed)
                pending += len(parsed.chunks)
                if pending >= options.embed_batch_size * 4:
                    _flush(store, batch, options, report)
                    batch, pending = [], 0
            _flush(store, batch, options, report)
        seen = {str(f) for f in files}
        for path, info in known.items():
            gone = not Path(path).exists()
            if path not in seen and gone and any(Path(path).is_relative_to(f) for f in folders):
                store.remove_document(info.doc_id)
                report.record(FileReport(path, "removed", chunks=info.chunks))
    return report


def _parse(
    store: Store, path: Path, known: dict[str, Any], shas: dict[str, str], options: IngestOptions
) -> _Parsed:
    doc_id = doc_id_for(str(path))
    try:
        sha = _sha256(path)
        old = known.get(str(path))
        if old is not None and old.sha256 == sha:
            return _Parsed(path, doc_id, "unchanged")
        twin = shas.get(sha) or store.document_by_sha(sha)
        if twin is not None and twin != str(path):
            return _Parsed(path, doc_id, "duplicate", reason=f"same content as {twin}")
        doc = load(path, max_bytes=options.max_file_bytes)
        if doc.sha256 != sha:
            return _Parsed(
                path, doc_id, "failed", reason="file changed while being read; ingest again"
            )
        chunks = chunk_document(
            doc, doc_id, chunk_size=options.chunk_size, chunk_overlap=options.chunk_overlap
        )
        if not chunks:
            return _Parsed(path, doc_id, "failed", reason="no text to index")
        shas[sha] = str(path)
        status: Status = "updated" if old is not None else "added"
        return _Parsed(path, doc_id, status, doc, chunks)
    except LoadError as e:
        return _Parsed(path, doc_id, "failed", reason=str(e))
    except OSError as e:
        return _Parsed(path, doc_id, "failed", reason=f"cannot read file: {e.strerror or e}")


def _flush(
    store: Store, batch: list[_Parsed], options: IngestOptions, report: IngestReport
) -> None:
    if not batch:
        return
    texts = [embed_text(c, p.doc.title) for p in batch if p.doc for c in p.chunks]
    vectors = embed_texts(texts, options.embed_batch_size)
    rows = []
    i = 0
    for p in batch:
        assert p.doc is not None
        n = len(p.chunks)
        rows.append((p.doc_id, p.doc, p.chunks, vectors[i : i + n]))
        i += n
    store.replace_documents(rows)
    for p in batch:
        assert p.doc is not None
        report.record(
            FileReport(
                str(p.path),
                p.status,
                chunks=len(p.chunks),
                chars=len(p.doc.text),
                pages=len(p.doc.pages),
            )
        )
