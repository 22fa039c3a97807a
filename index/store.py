"""The index as callers see it: Chroma holds everything, a local SQLite file caches it.

Chroma (embedded, or a server any number of processes on any machines share) is the one
source of truth: chunk vectors, texts and offsets, document records with their full text, the
fingerprint and a generation counter (index.chroma_store). The SQLite file in `data_dir` is a
cache derived from it, docstore rows and FTS5 BM25 (index.cache): deleting it loses nothing.
Readers check the generation when the store opens and then at most every `sync_interval`
seconds, and sync only what changed (index.sync). Writers take a local lock (one per data dir)
and a lease in Chroma (one across machines, index.lease), and write in the order that keeps
readers consistent and lets the next writer repair a killed one (index.commit).
"""

from __future__ import annotations

import contextlib
import fcntl
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import index.bm25 as bm25
import index.commit as commit
import index.fingerprint as fp
from index.bm25 import STOPWORDS, bm25_match
from index.cache import Cache
from index.chroma_store import ChromaStore, Head
from index.errors import IndexMismatch, StoreLocked, StoreUnavailable
from index.fingerprint import REPARSE_KEYS
from index.lease import Lease
from index.loaders import PageSpan
from index.records import ChunkRecord, DocumentInfo
from index.sync import sync

__all__ = [
    "REPARSE_KEYS",
    "STOPWORDS",
    "ChunkRecord",
    "DocumentInfo",
    "IndexMismatch",
    "Store",
    "StoreLocked",
    "StoreUnavailable",
    "bm25_match",
]

SYNC_INTERVAL = 2.0  # seconds between generation checks in a long-running reader


class Store:
    """Open the index of `collection` (cache in `data_dir`), checking it was built with
    `fingerprint`; `verify=False` only to open a mismatched index in order to reset it."""

    def __init__(
        self,
        data_dir: Path,
        collection: str,
        fingerprint: dict[str, Any],
        *,
        chroma_host: str | None = None,
        chroma_port: int | None = None,
        verify: bool = True,
        sync_interval: float = SYNC_INTERVAL,
        lease_ttl: float = 30.0,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.collection_name = collection
        self.fingerprint = fingerprint
        self.mode = "server" if chroma_host else "embedded"
        self.sync_interval = sync_interval
        self.cache = Cache(self.data_dir)
        self.chroma = ChromaStore(
            collection,
            fingerprint,
            path=self.data_dir / "chroma",
            host=chroma_host,
            port=chroma_port,
        )
        where = (
            self.data_dir
            if self.mode == "embedded"
            else f"{self.chroma.addr[0]}:{self.chroma.addr[1]}"
        )
        self._lease = Lease(
            self.chroma,
            ttl=lease_ttl,
            busy_message=f"another ingest is running on {where}; wait for it to finish",
        )
        self._verify = verify
        self._write_lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self._checked = float("-inf")
        self._committer: commit.Committer | None = None
        self._was_dirty = False
        self.reparse_all = False  # built by older loaders: the next ingest re-reads every file
        self.legacy = ""  # why reads are refused: vectors of the layout before Chroma held all
        if verify:
            self._fresh(now=True)

    # ---- keeping the cache fresh ------------------------------------------------------------
    def _fresh(self, *, now: bool = False) -> None:
        """Sync the cache if Chroma's generation moved (checked at most every sync_interval)."""
        if self._committer is not None or not self._verify:
            return  # this process is the writer: its cache follows its own commits
        if now or time.monotonic() - self._checked >= self.sync_interval:
            with self._sync_lock:
                if now or time.monotonic() - self._checked >= self.sync_interval:
                    head = self.chroma.head()
                    self._check(head)
                    if self._stale(head):
                        sync(self.cache, self.chroma, head)
                    self._checked = time.monotonic()
        if self.legacy and not now:  # reads only: an ingest is what rebuilds it
            raise IndexMismatch(self.legacy)

    def _stale(self, head: Head) -> bool:
        meta = self.cache.meta
        return (
            meta("collection_id") != head.collection_id
            or meta("generation") != str(head.generation)
            or meta("dirty") == "1"
        )

    def _check(self, head: Head) -> None:
        where = (
            str(self.data_dir)
            if self.mode == "embedded"
            else f"collection {self.collection_name!r}"
        )
        stored = head.fingerprint or self.fingerprint
        self.reparse_all = fp.compare(stored, self.fingerprint, where)
        self.legacy = ""
        if head.generation == 0 and self.chroma.holds_legacy_chunks():
            self.legacy = (
                f"the index in {where} was built by an older corpus-qa that kept documents "
                "outside Chroma; run `qa ingest PATH...` to rebuild it"
            )

    def sync(self) -> int:
        """Sync now, whatever the interval; returns how many documents changed in the cache."""
        with self._sync_lock:
            head = self.chroma.head()
            self._check(head)
            changed = sync(self.cache, self.chroma, head)
            self._checked = time.monotonic()
            return changed

    # ---- writes -----------------------------------------------------------------------------
    @property
    def collection(self) -> Any:
        """The chunk collection (vectors, chunk texts and offsets)."""
        return self.chroma.collection("chunks")

    @contextlib.contextmanager
    def writer(self) -> Iterator[None]:
        """One writer per data dir (flock, threads too) and per Chroma collection (the lease)."""
        with self._write_lock, open(self.data_dir / "ingest.lock", "a+") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise StoreLocked(
                    f"another ingest is running on {self.data_dir}; wait for it to finish"
                ) from None
            try:
                self._lease.acquire()
                try:
                    yield from self._writing()
                finally:
                    with contextlib.suppress(Exception):  # else it expires on its own
                        self._lease.release()
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _writing(self) -> Iterator[None]:
        head = self.chroma.head()
        if self._verify:
            self._check(head)
        self._was_dirty = self.cache.meta("dirty") == "1"  # a writer here died mid-write
        if self._verify and self._stale(head):  # (not for an index about to be reset)
            sync(self.cache, self.chroma, head)
        self._committer = commit.Committer(
            self.chroma,
            self.cache,
            commit.Head(head.generation, head.fingerprint or dict(self.fingerprint)),
            int(self.fingerprint.get("loader_version") or 0),
            self._lease.check,
        )
        try:
            yield
        finally:
            self._committer = None
            self._checked = float("-inf")

    def _writer_only(self) -> commit.Committer:
        if self._committer is None:
            raise RuntimeError("index writes happen inside `with store.writer():`")
        return self._committer

    def replace_documents(self, batch: commit.Batch) -> None:
        """Swap in new versions of documents (see index.commit for the order)."""
        self._writer_only().replace(batch)

    def remove_document(self, doc_id: str) -> int:
        return self._writer_only().remove(doc_id)

    def repair(self, *, force: bool = False) -> tuple[int, int]:
        """Remove what a killed writer left. Returns (orphan chunks deleted, docs dropped)."""
        committer = self._writer_only()
        force = force or self._lease.took_over or self._was_dirty
        orphans, dropped = committer.repair(force=force)
        if force or dropped:  # the cache follows: dropped documents go, the dirty flag too
            sync(self.cache, self.chroma, self.chroma.head())
        return orphans, dropped

    def mark_built(self) -> None:
        """Every document now comes from the current loaders: record the fingerprint."""
        committer = self._writer_only()
        committer.head.fingerprint = dict(self.fingerprint)
        committer.bump()
        self.reparse_all = False

    def reset(self) -> None:
        """Drop everything (for --rebuild): chunks, documents, the cache, the fingerprint."""
        committer = self._writer_only()
        self.chroma.reset()
        head = self.chroma.head()  # new, empty collections with this fingerprint
        committer.head = commit.Head(head.generation, dict(self.fingerprint))
        with self.cache.db() as db:
            Cache.clear(db)
        sync(self.cache, self.chroma, head)
        self._verify = True
        self.reparse_all = False

    # ---- reads ------------------------------------------------------------------------------
    def chunk_ids(self, doc_id: str) -> list[str]:
        self._fresh()
        return self.cache.chunk_ids(doc_id)

    def count_chunks(self) -> int:
        self._fresh()
        return self.cache.count_chunks()

    def count_vectors(self) -> int:
        return self.chroma.count_chunks()

    def documents(self) -> list[DocumentInfo]:
        self._fresh()
        return self.cache.documents()

    def document_by_path(self, path: str) -> DocumentInfo | None:
        return next((d for d in self.documents() if d.path == path), None)

    def document_by_sha(self, sha256: str) -> str | None:
        self._fresh()
        return self.cache.document_by_sha(sha256)

    def document_text(self, path: str) -> tuple[str, list[PageSpan]] | None:
        """The loader's text of an ingested document and its page ranges (PDF)."""
        self._fresh()
        return self.cache.document_text(path)

    def chunks(self, chunk_ids: Sequence[str]) -> dict[str, ChunkRecord]:
        self._fresh()
        return self.cache.chunks(chunk_ids)

    def dense_search(self, vector: list[float], n: int) -> list[tuple[str, float]]:
        """(chunk_id, cosine similarity), best first, of chunks this cache holds.

        Chroma can hold chunks the cache does not (yet): an ingest in flight elsewhere, a
        commit not synced, a killed writer's leftovers. They are skipped, and the query asked
        again for more when they took places."""
        self._fresh()
        count = self.cache.count_chunks()
        if count == 0:
            return []
        want = min(n, count)
        hits = self.chroma.query(vector, want)
        found = self._known(hits)
        if len(found) < want and len(hits) == want:
            more = min(2 * want + 16, self.chroma.count_chunks())
            if more > want:
                found = self._known(self.chroma.query(vector, more))
        return found[:want]

    def _known(self, hits: list[tuple[str, float]]) -> list[tuple[str, float]]:
        known = self.cache.known(c for c, _ in hits)
        return [h for h in hits if h[0] in known]

    def bm25_search(self, query: str, n: int) -> list[tuple[str, float]]:
        """(chunk_id, BM25 score), best first; FTS5 ranks are negated so higher is better."""
        self._fresh()
        return bm25.bm25_search(self.cache.conn(), query, n)

    # ---- the cache's connection (tests and benchmarks look inside) --------------------------
    def _conn(self) -> Any:
        return self.cache.conn()

    def _db(self) -> Any:
        return self.cache.db()

    def close(self) -> None:
        self.cache.close()
