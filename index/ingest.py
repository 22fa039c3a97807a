"""Incremental, idempotent ingestion: files in, IngestReport out.

Unchanged files (same SHA-256 at the same path) are skipped without being parsed; changed
files replace their old chunks; files gone from an ingested folder are removed. Parsing
runs ahead of the embedder, in a worker process with a time limit and a memory ceiling
(index/worker.py) under the limits of index/limits.py; writes run beside the encoder, and
chunks from many small files are embedded together in large batches, since the model is the
bottleneck.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from index.chunking import Chunk, chunk_document, doc_id_for, embed_text, prepare
from index.discover import FileReport, Status, discover
from index.embeddings import Backend, Precision, embed_texts
from index.errors import LoadError
from index.limits import Limits, check_size
from index.loaders import LoadedDocument, check_file, load
from index.store import Store
from index.tuning import Auto, EncoderChoice, choose_encoder
from index.worker import ParseWorker

__all__ = ["FileReport", "IngestOptions", "IngestReport", "Progress", "discover", "ingest"]

log = logging.getLogger(__name__)

WRITE_BATCHES = 32  # encoder batches per write (at most WRITE_CHUNKS per Chroma + SQLite commit)
WRITE_CHUNKS = 256
PROGRESS_CHUNKS = 64  # chunks embedded between progress reports
# (bytes done, bytes total, current file). Bytes, not files, so one big file moves the bar
# while its chunks are embedded (the slow part), not only when it is finished.
Progress = Callable[[int, int, str], None]


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
    encoder: dict[str, Any] | None = None  # the runtime, precision and batch size that embedded

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
    embed_batch_size: int | None = None  # None, "auto": timed on this machine (index.tuning)
    embed_backend: Backend | Auto = "auto"
    embed_precision: Precision | Auto = "auto"
    limits: Limits = field(default_factory=Limits)

    def encoder(self) -> EncoderChoice:
        choice = choose_encoder(self.embed_backend, self.embed_precision, self.embed_batch_size)
        assert choice is not None  # measure=True always chooses
        return choice


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
        meter = _Meter(progress, {f: _size(f) for f in files})

        shas: dict[str, str] = {}  # content seen in this run, to catch twins within it

        def parse(path: Path) -> _Parsed:
            return _parse(store, path, known, shas, options, worker)

        batch: list[_Parsed] = []
        pending = 0
        encoder: list[EncoderChoice] = []  # chosen at the first chunk: a no-op run times nothing
        # The encoder never waits for a write: batch k is written (Chroma + SQLite, here on
        # this thread, the store's only user) while batch k+1 is embedded on the other.
        writing: Future[_Embedded] | None = None
        with (
            _worker(options, meter.sizes) as worker,
            ThreadPoolExecutor(1) as pool,
            ThreadPoolExecutor(1) as embedder,
        ):
            for parsed in pool.map(parse, files):
                if parsed.doc is None:
                    meter.finished([parsed.path])
                    stale = known.get(str(parsed.path))
                    if parsed.status == "duplicate" and stale is not None:
                        store.remove_document(stale.doc_id)  # its old text is no longer there
                    report.record(FileReport(str(parsed.path), parsed.status, reason=parsed.reason))
                    continue
                batch.append(parsed)
                pending += len(parsed.chunks)
                if not encoder:
                    encoder.append(options.encoder())
                    report.encoder = encoder[0].to_dict()
                if pending >= min(WRITE_CHUNKS, encoder[0].batch_size * WRITE_BATCHES):
                    ready = embedder.submit(_embed, batch, encoder[0], meter)
                    _write(store, writing, report, meter)
                    writing, batch, pending = ready, [], 0
            if batch:
                ready = embedder.submit(_embed, batch, encoder[0], meter)
                _write(store, writing, report, meter)
                writing = ready
            _write(store, writing, report, meter)
        _remove_gone(store, known, files, folders, report)
    return report


def _remove_gone(
    store: Store,
    known: dict[str, Any],
    files: list[Path],
    folders: list[Path],
    report: IngestReport,
) -> None:
    """Remove documents whose file is gone from what was given; then, if every document has
    been re-read by the current loaders, record that in the fingerprint."""
    seen = {str(f) for f in files}
    for path, info in known.items():
        gone = not Path(path).exists()
        if gone and (path in seen or any(Path(path).is_relative_to(f) for f in folders)):
            store.remove_document(info.doc_id)
            report.record(FileReport(path, "removed", chunks=info.chunks))
    if store.reparse_all:
        fresh = {f.path for f in report.files if f.status in ("added", "updated", "removed")}
        if set(known) <= fresh:
            store.mark_built()


def _worker(options: IngestOptions, sizes: dict[Path, int]) -> ParseWorker:
    """The parse worker of one ingest: `load` is looked up now, so a patched loader is used.

    Before the first fork the splitter is built here, for every worker to inherit; its
    sentence tokenizer (seconds to import) too, unless every file is too small to hold a
    paragraph longer than a chunk (English runs ~4 bytes a token), as in a folder of snippets.
    Were that guess wrong, the worker would import the tokenizer itself: slower, not wrong.
    """
    size, overlap = options.chunk_size, options.chunk_overlap
    long = any(n > 4 * size for n in sizes.values())

    def chunk(doc: LoadedDocument, doc_id: str) -> list[Chunk]:
        return chunk_document(doc, doc_id, chunk_size=size, chunk_overlap=overlap)

    def warm() -> None:
        prepare(size, overlap, sentences=long)

    return ParseWorker(options.limits, load, chunk, prepare=warm)


def _parse(
    store: Store,
    path: Path,
    known: dict[str, Any],
    shas: dict[str, str],
    options: IngestOptions,
    worker: ParseWorker,
) -> _Parsed:
    doc_id = doc_id_for(str(path))
    try:
        check_size(check_file(path), options.limits)  # before hashing a huge file
        old = known.get(str(path))
        for _attempt in range(3):  # a file being rewritten: read it again, a few times
            sha = _sha256(path)
            if old is not None and old.sha256 == sha and not store.reparse_all:
                return _Parsed(path, doc_id, "unchanged")
            twin = _twin(store, path, sha, shas)
            if twin is not None:
                return _Parsed(path, doc_id, "duplicate", reason=f"same content as {twin}")
            parsed = worker.parse(path, doc_id)  # nothing is written for a file that fails here
            if parsed.doc.sha256 == sha:
                break
        else:
            return _Parsed(
                path, doc_id, "failed", reason="file kept changing while being read; ingest again"
            )
        doc, chunks = parsed.doc, parsed.chunks
        if not chunks:
            return _Parsed(path, doc_id, "failed", reason="no text to index")
        shas[sha] = str(path)
        status: Status = "updated" if old is not None else "added"
        return _Parsed(path, doc_id, status, doc, chunks)
    except LoadError as e:
        return _Parsed(path, doc_id, "failed", reason=str(e))
    except PermissionError:
        return _Parsed(path, doc_id, "failed", reason="permission denied")
    except OSError as e:
        return _Parsed(path, doc_id, "failed", reason=f"cannot read file: {e.strerror or e}")


def _twin(store: Store, path: Path, sha: str, shas: dict[str, str]) -> str | None:
    """Another file that holds this content now: one read in this run, or an indexed one that
    still has it on disk (a renamed, deleted or edited original is no twin: its text would go).
    """
    twin = shas.get(sha)
    if twin is not None and twin != str(path):
        return twin
    twin = store.document_by_sha(sha)
    if twin is None or twin == str(path):
        return None
    try:
        return twin if _sha256(Path(twin)) == sha else None
    except OSError:
        return None


class _Meter:
    """Progress in bytes of input: a file counts when it is written (or skipped), and the
    files being embedded count in proportion to the chunks embedded so far."""

    def __init__(self, progress: Progress | None, sizes: dict[Path, int]) -> None:
        self.progress, self.sizes = progress, sizes
        self.total, self.done = sum(sizes.values()), 0

    def finished(self, paths: list[Path]) -> None:
        self.done += sum(self.sizes.get(p, 0) for p in paths)
        self._tell(self.done, paths[-1].name)

    def embedding(self, paths: list[Path], share: float, current: Path) -> None:
        part = sum(self.sizes.get(p, 0) for p in paths)
        self._tell(self.done + int(part * share), current.name)

    def _tell(self, done: int, name: str) -> None:
        if self.progress:
            self.progress(min(done, self.total), self.total, name)


def _size(path: Path) -> int:
    try:
        return max(1, path.stat().st_size)
    except OSError:
        return 1


@dataclass
class _Embedded:
    batch: list[_Parsed]
    vectors: list[list[float]]


def _embed(batch: list[_Parsed], encoder: EncoderChoice, meter: _Meter) -> _Embedded:
    texts = [embed_text(c, p.doc.title) for p in batch if p.doc for c in p.chunks]
    paths = [p.path for p in batch]
    owner = [p.path for p in batch for _ in p.chunks]
    vectors: list[list[float]] = []
    for s in range(0, len(texts), PROGRESS_CHUNKS):
        meter.embedding(paths, s / len(texts), owner[s])
        part = texts[s : s + PROGRESS_CHUNKS]
        vectors += embed_texts(part, encoder.batch_size, encoder.backend, encoder.precision)
    return _Embedded(batch, vectors)


def _write(
    store: Store, embedded: Future[_Embedded] | None, report: IngestReport, meter: _Meter
) -> None:
    if embedded is None:
        return
    done = embedded.result()  # re-raises what the encoder raised
    rows = []
    i = 0
    for p in done.batch:
        assert p.doc is not None
        n = len(p.chunks)
        rows.append((p.doc_id, p.doc, p.chunks, done.vectors[i : i + n]))
        i += n
    store.replace_documents(rows)
    meter.finished([p.path for p in done.batch])
    for p in done.batch:
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
