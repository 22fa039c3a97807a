"""Writes and repair, in the order that keeps every reader consistent.

A batch of documents is committed as: (1) their chunks into Chroma, tagged with each
document's version; (2) their document records, the commit point; (3) the chunks of the
replaced versions deleted; (4) the generation moved on, so readers sync; (5) the writer's own
cache updated in one SQLite transaction. A removal deletes the record first, then the chunks.
A writer killed anywhere leaves at worst chunks that no record names, or old-version chunks
beside a committed record: readers never use either (index.sync), and the next writer's
`repair` deletes them. The local `dirty` flag brackets (1)-(5): a cache left dirty may be
behind Chroma and is synced in full.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from index.cache import Cache, ChunkRow, set_meta
from index.chroma_store import ChromaStore
from index.chunking import Chunk
from index.loaders import LoadedDocument
from index.records import DocRecord, chunk_key, chunk_metadata

log = logging.getLogger(__name__)

Batch = Sequence[tuple[str, LoadedDocument, list[Chunk], list[list[float]]]]


@dataclass
class Head:
    """What the writer knows of Chroma's head while it holds the lease."""

    generation: int
    fingerprint: dict[str, Any]


class Committer:
    def __init__(
        self,
        chroma: ChromaStore,
        cache: Cache,
        head: Head,
        loader_version: int,
        check: Callable[[], None],
    ) -> None:
        self.chroma, self.cache, self.head = chroma, cache, head
        self.loader_version = loader_version
        self.check = check  # raises if this writer lost its lease

    def replace(self, batch: Batch) -> None:
        self._dirty()
        ids, vectors, texts, metas = [], [], [], []
        records, doc_vectors, rows = [], [], []
        for doc_id, doc, chunks, vecs in batch:
            keys = [chunk_key(c, doc.sha256) for c in chunks]
            ids += keys
            vectors += vecs
            texts += [c.text for c in chunks]
            metas += [chunk_metadata(c, doc.path, doc.sha256) for c in chunks]
            records.append(self._record(doc_id, doc, len(chunks)))
            doc_vectors.append(_mean(vecs))
            rows.append(
                [
                    (k, doc_id, c.idx, c.start, c.end, c.page, c.text)
                    for k, c in zip(keys, chunks, strict=True)
                ]
            )
        self.chroma.put_chunks(ids, vectors, texts, metas)
        self.check()
        self.chroma.put_records(records, doc_vectors)  # the commit point
        new = set(ids)
        old = [i for doc_id, *_ in batch for i in self.cache.chunk_ids(doc_id) if i not in new]
        self.chroma.delete_chunks(old)
        self._publish(records, rows, [])

    def remove(self, doc_id: str) -> int:
        self._dirty()
        self.check()
        self.chroma.delete_records([doc_id])  # the commit point
        ids = [cid for cid, _, _ in self.chroma.chunks_of([doc_id])]
        self.chroma.delete_chunks(ids)
        n = len(self.cache.chunk_ids(doc_id))
        self._publish([], [], [doc_id])
        return n or len(ids)

    def _record(self, doc_id: str, doc: LoadedDocument, chunks: int) -> DocRecord:
        return DocRecord(
            doc_id=doc_id,
            path=doc.path,
            source=doc.source,
            title=doc.title,
            format=doc.format,
            sha256=doc.sha256,
            size=doc.size,
            mtime=doc.mtime,
            pages=list(doc.pages),
            chunks=chunks,
            ingested_at=time.time(),
            loader_version=self.loader_version,
            stamp=uuid.uuid4().hex,
            text=doc.text,
        )

    def _dirty(self) -> None:
        with self.cache.db() as db:
            set_meta(db, "dirty", "1")

    def _publish(
        self, records: list[DocRecord], rows: list[list[ChunkRow]], removed: list[str]
    ) -> None:
        """Move the generation on, then bring this writer's own cache along."""
        self.bump()
        with self.cache.db() as db:
            for doc_id in removed:
                Cache.delete(db, doc_id)
            for record, doc_rows in zip(records, rows, strict=True):
                Cache.put(db, record, doc_rows)
            set_meta(db, "generation", str(self.head.generation))
            set_meta(db, "dirty", "0")

    def bump(self) -> None:
        self.head.generation += 1
        self.chroma.set_head(self.head.generation, self.head.fingerprint)

    def repair(self, *, force: bool) -> tuple[int, int]:
        """Delete chunks no record names and records missing chunks (documents to re-ingest).

        Cheap unless needed: without `force` (a dead writer's lease was taken over) it only
        compares Chroma's chunk count with the records' total. Returns (orphans, dropped)."""
        heads = self.chroma.record_heads()
        if not force and self.chroma.count_chunks() == sum(r.chunks for r in heads.values()):
            return 0, 0
        counts: dict[str, int] = {}
        orphans: list[str] = []
        for cid, meta in self.chroma.all_chunks():
            rec = heads.get(str(meta.get("doc_id")))
            if rec is None or meta.get("sha") != rec.version:
                orphans.append(cid)
            else:
                counts[rec.doc_id] = counts.get(rec.doc_id, 0) + 1
        broken = [d for d, r in heads.items() if counts.get(d, 0) != r.chunks]
        self.chroma.delete_records(broken)  # records first: readers drop them before the chunks
        doomed = orphans + [cid for cid, _, _ in self.chroma.chunks_of(broken)]
        self.chroma.delete_chunks(doomed)
        if orphans or broken:
            self.bump()
            log.warning(
                "repaired index: %d orphan vectors deleted, %d documents to re-ingest",
                len(orphans),
                len(broken),
            )
        return len(orphans), len(broken)


def _mean(vectors: list[list[float]]) -> list[float]:
    """A document's vector: the mean of its chunk vectors, normalised (cosine-ready)."""
    import numpy as np

    mean = np.asarray(vectors, dtype=np.float32).mean(axis=0)
    norm = float(np.linalg.norm(mean))
    return [float(x) for x in (mean / norm if norm else mean)]
