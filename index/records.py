"""The typed rows that cross the store's boundary, and their form in Chroma metadata.

A document's record in Chroma (DocRecord) is the commit point of its ingest: its chunks are
written first, each tagged with the document's version (`sha`), and a reader takes a
document's chunks only once its record is there, and only the chunks of the record's version.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from index.chunking import Chunk
from index.loaders import PageSpan


@dataclass(frozen=True)
class ChunkRecord:
    chunk_id: str
    doc_id: str
    path: str
    source: str
    start: int
    end: int
    page: int | None
    text: str


@dataclass(frozen=True)
class DocumentInfo:
    doc_id: str
    path: str
    source: str
    title: str
    format: str
    sha256: str
    size: int
    chars: int
    pages: int
    chunks: int
    ingested_at: float


@dataclass(frozen=True)
class DocRecord:
    """One document as Chroma's documents collection holds it (`text` is its document field)."""

    doc_id: str
    path: str
    source: str
    title: str
    format: str
    sha256: str
    size: int
    mtime: float
    pages: list[PageSpan]
    chunks: int
    ingested_at: float
    loader_version: int
    stamp: str  # new at every commit: what a cache compares to see that a document changed
    text: str = ""

    @property
    def version(self) -> str:
        """The tag its chunks carry: chunks of another version are not this record's."""
        return version_of(self.sha256)

    def metadata(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "source": self.source,
            "title": self.title,
            "format": self.format,
            "sha256": self.sha256,
            "size": self.size,
            "mtime": self.mtime,
            "pages": json.dumps([[p.page, p.start, p.end] for p in self.pages]),
            "chunks": self.chunks,
            "ingested_at": self.ingested_at,
            "loader_version": self.loader_version,
            "stamp": self.stamp,
        }

    @classmethod
    def from_chroma(cls, doc_id: str, meta: dict[str, Any], text: str | None) -> DocRecord:
        return cls(
            doc_id=doc_id,
            path=str(meta["path"]),
            source=str(meta["source"]),
            title=str(meta.get("title") or ""),
            format=str(meta.get("format") or ""),
            sha256=str(meta["sha256"]),
            size=int(meta.get("size") or 0),
            mtime=float(meta.get("mtime") or 0.0),
            pages=[PageSpan(*p) for p in json.loads(str(meta.get("pages") or "[]"))],
            chunks=int(meta["chunks"]),
            ingested_at=float(meta.get("ingested_at") or 0.0),
            loader_version=int(meta.get("loader_version") or 0),
            stamp=str(meta["stamp"]),
            text=text or "",
        )


def version_of(sha256: str) -> str:
    return sha256[:12]


def chunk_key(chunk: Chunk, sha256: str) -> str:
    """A chunk's id in Chroma and in the cache: the chunker's id plus the document version,
    so a new version of a document never overwrites the chunks its committed record uses."""
    return f"{chunk.chunk_id}-{version_of(sha256)}"


def chunk_metadata(chunk: Chunk, path: str, sha256: str) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "doc_id": chunk.doc_id,
        "path": path,
        "sha": version_of(sha256),
        "idx": chunk.idx,
        "start": chunk.start,
        "end": chunk.end,
    }
    if chunk.page is not None:
        meta["page"] = chunk.page
    return meta
